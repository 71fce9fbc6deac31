// pusher-js connects, gets a socket id, and receives REST-triggered events on a
// public channel exactly as they were sent.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  connected, disconnectAll, nextEvent, pusherJs, restClient, subscribed, uniqueName,
} from './lib/clients.js';
import { startServer } from './lib/server.js';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  disconnectAll();
  await server?.stop();
});

test('pusher-js connects and gets a socket id of the form digits.digits', async () => {
  const client = pusherJs(server);
  const socketId = await connected(client);
  assert.match(socketId, /^\d+\.\d+$/);
});

test('two connections get different socket ids', async () => {
  const [a, b] = [pusherJs(server), pusherJs(server)];
  const [idA, idB] = await Promise.all([connected(a), connected(b)]);
  assert.notEqual(idA, idB);
});

test('a public channel receives an event triggered by npm pusher with the exact data', async () => {
  const client = pusherJs(server);
  await connected(client);
  const name = uniqueName('public-');
  const channel = await subscribed(client, name);
  const payload = { hello: 'world', n: 42, nested: { list: [1, 'two', null], ok: true }, text: 'héllo ✓' };

  const arrival = nextEvent(channel, 'greeting');
  const response = await restClient(server).trigger(name, 'greeting', payload);
  assert.equal(response.status, 200);
  const { data } = await arrival;
  assert.deepEqual(data, payload);
});

test('a data string that is not JSON arrives unchanged', async () => {
  const client = pusherJs(server);
  await connected(client);
  const name = uniqueName('public-raw-');
  const channel = await subscribed(client, name);
  const raw = 'not json: {"a": 1, ' + "'quoted' \\ \u00e9";

  const arrival = nextEvent(channel, 'raw-event');
  await restClient(server).trigger(name, 'raw-event', raw);
  const { data } = await arrival;
  assert.equal(data, raw);
});

test('an event name with backslashes and dots is delivered as is', async () => {
  const client = pusherJs(server);
  await connected(client);
  const name = uniqueName('public-names-');
  const channel = await subscribed(client, name);
  const event = 'App\\Events\\OrderShipped';

  const arrival = nextEvent(channel, event);
  await restClient(server).trigger(name, event, { order: 7 });
  const { data } = await arrival;
  assert.deepEqual(data, { order: 7 });
});

test('unsubscribing vacates the channel', async () => {
  const client = pusherJs(server);
  await connected(client);
  const gone = uniqueName('public-gone-');
  await subscribed(client, gone);
  const rest = restClient(server);
  assert.equal((await (await rest.get({ path: `/channels/${gone}` })).json()).occupied, true);

  client.unsubscribe(gone);
  // The server handles a socket's frames in order: once a later subscribe has
  // succeeded, the unsubscribe before it has been applied.
  await subscribed(client, uniqueName('public-later-'));
  const info = await (await rest.get({ path: `/channels/${gone}` })).json();
  assert.equal(info.occupied, false);
});
