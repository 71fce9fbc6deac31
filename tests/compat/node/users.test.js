// User sign-in with pusher-js's signin() against an endpoint built on npm
// `authenticateUser`: events sent to a user, watchlists, terminating a user's
// connections, and apps that require sign-in.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startAuthEndpoint } from './lib/auth.js';
import {
  connected, disconnect, disconnectAll, pusherJs, record, restClient, signedIn, stateReached,
  uniqueName, within,
} from './lib/clients.js';
import { APP, startServer } from './lib/server.js';

let server;
let auth;
let rest;

before(async () => {
  [server, auth] = await Promise.all([startServer(), startAuthEndpoint()]);
  rest = restClient(server);
});

after(async () => {
  disconnectAll();
  await Promise.all([server?.stop(), auth?.close()]);
});

/** A pusher-js client that signs in as `userId`; resolves once it is signed in. */
async function signInAs(userId, { watchlist } = {}) {
  const userParams = { user_id: userId, user_name: `name of ${userId}` };
  if (watchlist) userParams.watchlist = watchlist.join(',');
  const client = pusherJs(server, { userAuthEndpoint: auth.userUrl, userParams });
  const user = await signedIn(client);
  return { client, user };
}

test('signin() signs in through authenticateUser and pusher-js reads the user data back', async () => {
  const userId = uniqueName('user-');
  const { client, user } = await signInAs(userId);
  assert.deepEqual(user, { id: userId, user_info: { name: `name of ${userId}` } });
  assert.ok(
    auth.requests.some((r) => r.path === '/user-auth' && r.socketId === client.connection.socket_id),
    'pusher-js should have asked the user endpoint for this socket',
  );
  assert.equal(client.connection.state, 'connected');
});

test('sendToUser reaches every connection of that user on pusher.user, and nobody else', async () => {
  const userId = uniqueName('user-');
  const otherId = uniqueName('user-');
  const [first, second, other] = await Promise.all([signInAs(userId), signInAs(userId), signInAs(otherId)]);
  const logs = [first, second, other].map(({ client }) => record(client.user, 'pusher.user'));

  await rest.sendToUser(userId, 'invoice-ready', { invoice: 42, total: '€12.50' });
  await rest.sendToUser(otherId, 'marker', { last: true });
  await rest.sendToUser(userId, 'marker', { last: true });

  for (const log of logs) await log.until('marker');
  for (const log of logs.slice(0, 2)) {
    assert.deepEqual(log.events, [
      { event: 'invoice-ready', data: { invoice: 42, total: '€12.50' } },
      { event: 'marker', data: { last: true } },
    ]);
  }
  // Events on the other user's channel arrive in order, so its marker shows the
  // invoice never reached it.
  assert.deepEqual(logs[2].names(), ['marker']);
});

test('pusher.user.bind gets non-JSON strings from sendToUser as they were sent', async () => {
  const { client } = await signInAs(uniqueName('user-'));
  const arrival = within(new Promise((resolve) => client.user.bind('note', resolve)), '"note" on pusher.user');
  await rest.sendToUser(client.user.user_data.id, 'note', 'plain text, not JSON');
  assert.equal(await arrival, 'plain text, not JSON');
});

test('the watchlist reports who is online at sign-in, then who comes online and goes offline', async () => {
  const online = uniqueName('watched-');
  const later = uniqueName('watched-');
  const never = uniqueName('watched-');
  await signInAs(online);

  const watcher = pusherJs(server, {
    userAuthEndpoint: auth.userUrl,
    userParams: {
      user_id: uniqueName('watcher-'), user_name: 'watcher', watchlist: [online, later, never].join(','),
    },
  });
  const log = record(watcher.user.watchlist, 'pusher.user.watchlist');
  await signedIn(watcher);
  await log.until('offline');
  await log.until('online');
  const status = Object.fromEntries(log.events.map(({ event, data }) => [event, data]));
  assert.deepEqual(status.online, { name: 'online', user_ids: [online] });
  assert.equal(status.offline.name, 'offline');
  assert.deepEqual([...status.offline.user_ids].sort(), [later, never].sort());

  const seen = log.events.length;
  const { client: laterClient } = await signInAs(later);
  await log.until((e) => log.events.indexOf(e) >= seen && e.event === 'online');
  assert.deepEqual(log.events[seen], { event: 'online', data: { name: 'online', user_ids: [later] } });

  // A second connection of the same user changes nothing; the user goes offline
  // only when the last one leaves.
  const { client: laterAgain } = await signInAs(later);
  disconnect(laterClient);
  disconnect(laterAgain);
  await log.until((e) => log.events.indexOf(e) > seen && e.event === 'offline');
  assert.deepEqual(log.events.slice(seen), [
    { event: 'online', data: { name: 'online', user_ids: [later] } },
    { event: 'offline', data: { name: 'offline', user_ids: [later] } },
  ]);
});

/**
 * Records the connection states and errors of a connected client from now on,
 * for checking how its connection ended.
 */
function watchConnection(client) {
  const states = [];
  const errors = [];
  const socket = client.connection.connection.transport.socket;
  client.connection.bind('state_change', ({ current }) => states.push(current));
  client.connection.bind('error', (err) => errors.push(err));
  return {
    states,
    errors,
    // On a "refused" close pusher-js closes the already closed WebSocket once
    // more, and faye-websocket then arms a 30 s close timer that nothing clears;
    // it must not keep the test process alive.
    releaseSocket: () => socket._closeTimer?.unref(),
  };
}

/** Checks that a connection was refused with 4009 and that pusher-js will not reconnect by itself. */
function assertRefusedFor4009(client, { states, errors }, what) {
  assert.deepEqual(states, ['disconnected'], `${what} went ${JSON.stringify(states)}`);
  assert.ok(
    errors.some((e) => e.type === 'PusherError' && e.data?.code === 4009),
    `pusher-js should have seen code 4009 on ${what}: ${JSON.stringify(errors)}`,
  );
  // pusher-js treats 4009 as "refused": nothing is left to reconnect it.
  assert.equal(client.connection.connection, null);
  assert.equal(client.connection.retryTimer ?? null, null);
  assert.equal(client.connection.runner ?? null, null);
  assert.equal(client.connection.state, 'disconnected');
}

test('terminateUserConnections closes every connection of the user with 4009, and pusher-js stays disconnected',
  async () => {
    const userId = uniqueName('kicked-');
    const [first, second, bystander] = await Promise.all([
      signInAs(userId), signInAs(userId), signInAs(uniqueName('bystander-')),
    ]);
    // Only sign-in counts: a connection that is merely connected stays.
    const anonymous = pusherJs(server);
    await connected(anonymous);
    const watched = [first, second].map(({ client }) => watchConnection(client));

    await rest.terminateUserConnections(userId);
    await Promise.all([first, second].map(({ client }) => stateReached(client, 'disconnected')));
    for (const w of watched) w.releaseSocket();

    // The bystander's user channel still works, and its marker shows that the
    // server has dealt with the termination.
    const marker = record(bystander.client.user, 'pusher.user');
    await rest.sendToUser(bystander.user.id, 'marker', {});
    await marker.until('marker');

    assertRefusedFor4009(first.client, watched[0], 'the first connection');
    assertRefusedFor4009(second.client, watched[1], 'the second connection');
    assert.equal(bystander.client.connection.state, 'connected');
    assert.equal(anonymous.connection.state, 'connected');
  });

test('terminateUserConnections for a user with no connections succeeds', async () => {
  const response = await rest.terminateUserConnections(uniqueName('nobody-'));
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {});
});

test('with signin_timeout_secs, a connection that does not sign in in time is closed with 4009 for good',
  async () => {
    const strict = await startServer({ apps: [{ ...APP, signin_timeout_secs: 1 }] });
    const clients = [];
    try {
      // Signed in first, so its deadline has passed by the time the other's has.
      const userId = uniqueName('prompt-');
      const prompt = pusherJs(strict, { userAuthEndpoint: auth.userUrl, userParams: { user_id: userId } });
      clients.push(prompt);
      await signedIn(prompt);
      const idle = pusherJs(strict);
      clients.push(idle);
      await connected(idle);
      const watched = watchConnection(idle);

      await stateReached(idle, 'disconnected');
      watched.releaseSocket();
      assertRefusedFor4009(idle, watched, 'the connection that never signed in');

      const marker = record(prompt.user, 'pusher.user');
      await restClient(strict).sendToUser(userId, 'marker', {});
      await marker.until('marker');
      assert.equal(prompt.connection.state, 'connected');
    } finally {
      for (const client of clients) disconnect(client);
      await strict.stop();
    }
  });
