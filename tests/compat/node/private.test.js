// Private channels authorized by an app endpoint built on npm `pusher`.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startAuthEndpoint } from './lib/auth.js';
import {
  connected, disconnectAll, nextEvent, pusherJs, restClient, subscribed, uniqueName,
} from './lib/clients.js';
import { startServer } from './lib/server.js';

let server;
let auth;

before(async () => {
  [server, auth] = await Promise.all([startServer(), startAuthEndpoint()]);
});

after(async () => {
  disconnectAll();
  await Promise.all([server?.stop(), auth?.close()]);
});

test('a private channel subscribes through the auth endpoint and receives events', async () => {
  const client = pusherJs(server, { authEndpoint: auth.url });
  const socketId = await connected(client);
  const name = uniqueName('private-orders-');
  const channel = await subscribed(client, name);
  assert.ok(
    auth.requests.some((r) => r.channel === name && r.socketId === socketId),
    'pusher-js should have asked the auth endpoint for this socket and channel',
  );

  const arrival = nextEvent(channel, 'order-updated');
  await restClient(server).trigger(name, 'order-updated', { id: 12, status: 'shipped' });
  const { data } = await arrival;
  assert.deepEqual(data, { id: 12, status: 'shipped' });
});

test('a signature made with the wrong secret gives pusher:subscription_error', async () => {
  const client = pusherJs(server, { authEndpoint: auth.wrongSecretUrl });
  await connected(client);
  const name = uniqueName('private-denied-');
  const channel = client.subscribe(name);

  const failure = nextEvent(channel, 'pusher:subscription_error');
  const { data } = await failure;
  assert.equal(data.type, 'AuthError');
  assert.equal(data.status, 401);
  assert.equal(channel.subscribed, false);

  // The socket stays open, and the channel did not get the socket as a member.
  assert.equal(client.connection.state, 'connected');
  const info = await (await restClient(server).get({ path: `/channels/${name}` })).json();
  assert.equal(info.occupied, false);
});

test('the same socket can still subscribe elsewhere after a failed subscription', async () => {
  const client = pusherJs(server, { authEndpoint: auth.wrongSecretUrl });
  const socketId = await connected(client);
  const denied = client.subscribe(uniqueName('private-denied-'));
  await nextEvent(denied, 'pusher:subscription_error');

  const open = await subscribed(client, uniqueName('public-after-denied-'));
  assert.equal(open.subscribed, true);
  assert.equal(client.connection.socket_id, socketId);
});
