// Webhooks from the server to an app's receiver, checked with the npm `pusher`
// library's webhook().isValid(), while pusher-js clients cause the events.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startAuthEndpoint } from './lib/auth.js';
import {
  connected, disconnect, disconnectAll, nextEvent, pusherJs, restClient, subscribed, uniqueName,
  within,
} from './lib/clients.js';
import { APP, startServer } from './lib/server.js';
import { startWebhookReceiver } from './lib/webhooks.js';

/** An app whose receiver gets batched requests. */
const BATCH_APP = Object.freeze({ id: '5', key: 'f0e1d2c3b4a596870812', secret: '9a8b7c6d5e4f30211203' });

let server;
let auth;
let receiver;
let membersOnly;
let batched;

before(async () => {
  [auth, receiver, membersOnly, batched] = await Promise.all([
    startAuthEndpoint(),
    startWebhookReceiver(),
    startWebhookReceiver(),
    startWebhookReceiver({ app: BATCH_APP }),
  ]);
  server = await startServer({
    apps: [
      {
        ...APP,
        subscription_count: true,
        webhooks: [{ url: receiver.url }, { url: membersOnly.url, event_types: ['member_added'] }],
      },
      { ...BATCH_APP, webhooks: [{ url: batched.url }], webhook_batching: true },
    ],
  });
});

after(async () => {
  disconnectAll();
  await server?.stop();
  await Promise.all([auth?.close(), receiver?.close(), membersOnly?.close(), batched?.close()]);
});

async function client(options = {}) {
  const c = pusherJs(server, { authEndpoint: auth.url, ...options });
  await connected(c);
  return c;
}

const on = (name, channel, extra = () => true) => (e) => e.name === name && e.channel === channel && extra(e);

test('channel_occupied arrives when pusher-js subscribes, as a valid webhook', async () => {
  const name = uniqueName('hooked-');
  const c = await client();
  await subscribed(c, name);
  const event = await receiver.until(on('channel_occupied', name), `channel_occupied for ${name}`);
  assert.deepEqual(event, { name: 'channel_occupied', channel: name });

  const request = receiver.requests.find((r) => r.body.events.includes(event));
  assert.equal(request.method, 'POST');
  assert.equal(request.headers['content-type'], 'application/json');
  assert.equal(request.headers['x-pusher-key'], APP.key);
  assert.match(request.headers['x-pusher-signature'], /^[0-9a-f]{64}$/);
  assert.equal(request.valid, true, `npm isValid() refused ${request.rawBody}`);
  assert.equal(request.body.events.length, 1, 'without batching each request carries one event');
  assert.ok(Math.abs(Date.now() - request.body.time_ms) < 60_000, `time_ms ${request.body.time_ms} is not now`);
});

test('npm isValid() accepts every webhook the server sent, and refuses a tampered one', async () => {
  const name = uniqueName('hooked-');
  await subscribed(await client(), name);
  await receiver.until(on('channel_occupied', name), `channel_occupied for ${name}`);
  for (const request of [...receiver.requests, ...membersOnly.requests]) {
    assert.equal(request.valid, true, `npm isValid() refused ${request.rawBody}`);
  }
  const { headers, rawBody } = receiver.requests[0];
  const tampered = restClient(server).webhook({ headers, rawBody: rawBody.replace('"events"', ' "events"') });
  assert.equal(tampered.isValid(), false);
});

test('member_added carries the user id, and a receiver limited to it gets nothing else', async () => {
  const name = uniqueName('presence-hooked-');
  const c = await client({ params: { user_id: 'hook-user', user_name: 'Hook' } });
  await subscribed(c, name);
  const added = await receiver.until(on('member_added', name), `member_added for ${name}`);
  assert.deepEqual(added, { name: 'member_added', channel: name, user_id: 'hook-user' });
  await membersOnly.until(on('member_added', name), `member_added for ${name} on the filtered receiver`);
  assert.ok(receiver.events.some(on('channel_occupied', name)));
  assert.deepEqual([...new Set(membersOnly.events.map((e) => e.name))], ['member_added']);
});

test('client_event carries event, data, socket_id, and user_id on presence channels', async () => {
  const privateName = uniqueName('private-hooked-');
  const presenceName = uniqueName('presence-hooked-chat-');
  const sender = await client({ params: { user_id: 'typist', user_name: 'Typist' } });
  const privateChannel = await subscribed(sender, privateName);
  const presenceChannel = await subscribed(sender, presenceName);

  assert.equal(privateChannel.trigger('client-typing', { who: 'me', n: 1 }), true);
  assert.equal(presenceChannel.trigger('client-typing', { who: 'me', n: 2 }), true);

  const fromPrivate = await receiver.until(on('client_event', privateName), `client_event on ${privateName}`);
  assert.deepEqual(fromPrivate, {
    name: 'client_event',
    channel: privateName,
    event: 'client-typing',
    data: '{"who":"me","n":1}',
    socket_id: sender.connection.socket_id,
  });
  const fromPresence = await receiver.until(on('client_event', presenceName), `client_event on ${presenceName}`);
  assert.deepEqual(fromPresence, {
    name: 'client_event',
    channel: presenceName,
    event: 'client-typing',
    data: '{"who":"me","n":2}',
    socket_id: sender.connection.socket_id,
    user_id: 'typist',
  });
});

test('cache_miss is sent once for several subscribers of an empty cache channel', async () => {
  const name = uniqueName('cache-hooked-');
  const first = await client();
  const channel = first.subscribe(name);
  await nextEvent(channel, 'pusher:cache_miss');
  await receiver.until(on('cache_miss', name), `cache_miss for ${name}`);

  const second = await client();
  const again = second.subscribe(name);
  await nextEvent(again, 'pusher:cache_miss');
  // A later event from the same receiver's ordered queue closes the window for
  // a second cache_miss.
  const marker = uniqueName('marker-');
  await subscribed(second, marker);
  await receiver.until(on('channel_occupied', marker), `channel_occupied for ${marker}`);
  assert.deepEqual(receiver.events.filter(on('cache_miss', name)), [{ name: 'cache_miss', channel: name }]);
});

test('subscription_count follows the number of connections on the channel', async () => {
  const name = uniqueName('counted-');
  const [a, b] = await Promise.all([client(), client()]);
  await subscribed(a, name);
  await receiver.until(on('subscription_count', name, (e) => e.subscription_count === 1), 'count 1');
  await subscribed(b, name);
  await receiver.until(on('subscription_count', name, (e) => e.subscription_count === 2), 'count 2');
  b.unsubscribe(name);
  const counts = () => receiver.events.filter(on('subscription_count', name)).map((e) => e.subscription_count);
  await receiver.until(() => counts().length === 3, `a third subscription_count for ${name}`);
  assert.deepEqual(counts(), [1, 2, 1]);
  assert.deepEqual(
    receiver.events.find(on('subscription_count', name)),
    { name: 'subscription_count', channel: name, subscription_count: 1 },
  );
});

test('channel_vacated and member_removed come after the delay, and not at all after a quick return',
  { timeout: 30_000 }, async () => {
    const left = uniqueName('presence-left-');
    const back = uniqueName('back-');
    const leaver = await client({ params: { user_id: 'leaver', user_name: 'Leaver' } });
    await subscribed(leaver, left);
    const returner = await client();
    await subscribed(returner, back);
    await receiver.until(on('channel_occupied', back), `channel_occupied for ${back}`);

    // Leaves and comes back at once: nothing should be reported for `back`.
    returner.unsubscribe(back);
    await nextEvent(returner.subscribe(back), 'pusher:subscription_succeeded');
    // Leaves for good, after the quick return: its webhooks come after any for `back`.
    disconnect(leaver);

    const removed = await receiver.until(on('member_removed', left), `member_removed for ${left}`);
    assert.deepEqual(removed, { name: 'member_removed', channel: left, user_id: 'leaver' });
    const vacated = await receiver.until(on('channel_vacated', left), `channel_vacated for ${left}`);
    assert.deepEqual(vacated, { name: 'channel_vacated', channel: left });
    assert.deepEqual(
      receiver.events.filter((e) => e.channel === back && e.name !== 'subscription_count'),
      [{ name: 'channel_occupied', channel: back }],
      'a quick return is neither a vacated nor a new occupied channel',
    );
  });

test('with webhook_batching, events that queue up while the receiver is busy come in one request',
  async () => {
    const names = [1, 2, 3, 4].map(() => uniqueName('batched-'));
    const c = pusherJs(server, { app: BATCH_APP });
    await connected(c);

    const gate = batched.hold();
    await subscribed(c, names[0]);
    const first = await gate.arrived;
    assert.deepEqual(first.body.events, [{ name: 'channel_occupied', channel: names[0] }]);
    // The server waits for the answer to `first`; meanwhile three more channels fill.
    for (const name of names.slice(1)) await subscribed(c, name);
    // The server handles a connection's messages in order, so once it answers this
    // ping it has queued the webhooks of every subscription before it.
    const pong = within(new Promise((resolve) => {
      const onMessage = (message) => {
        if (message.event !== 'pusher:pong') return;
        c.connection.unbind('message', onMessage);
        resolve();
      };
      c.connection.bind('message', onMessage);
    }), 'pusher:pong');
    c.connection.send_event('pusher:ping', {});
    await pong;
    gate.release();

    await batched.until(on('channel_occupied', names[3]), `channel_occupied for ${names[3]}`);
    const later = batched.requests.filter((r) => r !== first);
    assert.deepEqual(later.map((r) => r.body.events.map((e) => e.channel)), [names.slice(1)]);
    for (const request of batched.requests) {
      assert.equal(request.valid, true, `npm isValid() refused ${request.rawBody}`);
      assert.equal(request.headers['x-pusher-key'], BATCH_APP.key);
    }
  });
