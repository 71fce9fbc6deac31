// pusher:subscription_count in pusher-js, for an app with `subscription_count =
// true`: sent on every change of a channel's connection count, never on
// presence channels, and never for apps without the switch.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startAuthEndpoint } from './lib/auth.js';
import {
  connected, disconnect, disconnectAll, pusherJs, record, restClient, subscribed, uniqueName,
} from './lib/clients.js';
import { APP, startServer } from './lib/server.js';

/** A second app on the same server, with the switch off (the default). */
const QUIET_APP = Object.freeze({ id: '4', key: 'b1c0a5d7e3f2964a8b10', secret: '5e0f8d2c1b7a4963e8d0' });

let server;
let auth;

before(async () => {
  [server, auth] = await Promise.all([
    startServer({ apps: [{ ...APP, subscription_count: true }, QUIET_APP] }),
    startAuthEndpoint(),
  ]);
});

after(async () => {
  disconnectAll();
  await Promise.all([server?.stop(), auth?.close()]);
});

const isCount = (n) => (e) => e.event === 'pusher:subscription_count' && e.data.subscription_count === n;

/** The counts a recorded channel has seen, in order. */
const counts = (log) => log.events
  .filter((e) => e.event === 'pusher:subscription_count')
  .map((e) => e.data.subscription_count);

async function join(name, options = {}) {
  const client = pusherJs(server, { authEndpoint: auth.url, ...options });
  await connected(client);
  const channel = client.subscribe(name);
  return { client, channel, log: record(channel) };
}

for (const prefix of ['count-', 'private-count-']) {
  test(`every subscriber of a ${prefix}* channel hears the count go up and down`, async () => {
    const name = uniqueName(prefix);
    const first = await join(name);
    await first.log.until(isCount(1));
    assert.deepEqual(first.log.events.slice(0, 2), [
      { event: 'pusher:subscription_succeeded', data: {} },
      { event: 'pusher:subscription_count', data: { subscription_count: 1 } },
    ]);
    assert.equal(first.channel.subscriptionCount, 1, 'pusher-js keeps the last count on the channel');

    const second = await join(name);
    await Promise.all([first.log.until(isCount(2)), second.log.until(isCount(2))]);

    disconnect(second.client);
    await first.log.until((e) => isCount(1)(e) && first.log.events.indexOf(e) > 2);
    assert.deepEqual(counts(first.log), [1, 2, 1]);
    assert.deepEqual(counts(second.log), [2]);
    assert.equal(first.channel.subscriptionCount, 1);

    // Matches what the REST API says.
    const info = await (await restClient(server).get({
      path: `/channels/${name}`, params: { info: 'subscription_count' },
    })).json();
    assert.deepEqual(info, { occupied: true, subscription_count: 1 });
  });
}

test('presence channels never get pusher:subscription_count', async () => {
  const name = uniqueName('presence-count-');
  const first = await join(name, { params: { user_id: 'p1', user_name: 'One' } });
  await first.log.until('pusher:subscription_succeeded');
  const second = await join(name, { params: { user_id: 'p2', user_name: 'Two' } });
  await first.log.until('pusher:member_added');
  await second.log.until('pusher:subscription_succeeded');

  await restClient(server).trigger(name, 'marker', {});
  await Promise.all([first.log.until('marker'), second.log.until('marker')]);
  assert.deepEqual(first.log.names(), ['pusher:subscription_succeeded', 'pusher:member_added', 'marker']);
  assert.deepEqual(second.log.names(), ['pusher:subscription_succeeded', 'marker']);
});

test('an app without the switch sends no pusher:subscription_count', async () => {
  const name = uniqueName('quiet-');
  const first = pusherJs(server, { app: QUIET_APP });
  const second = pusherJs(server, { app: QUIET_APP });
  await Promise.all([connected(first), connected(second)]);
  const log = record(await subscribed(first, name));
  await subscribed(second, name);

  const rest = restClient(server, { appId: QUIET_APP.id, key: QUIET_APP.key, secret: QUIET_APP.secret });
  await rest.trigger(name, 'marker', {});
  await log.until('marker');
  assert.deepEqual(log.names(), ['marker']);
});
