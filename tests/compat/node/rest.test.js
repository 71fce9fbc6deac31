// The npm `pusher` library (pusher-http-node 5.x) against the REST API, with
// pusher-js clients on the receiving end.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startAuthEndpoint } from './lib/auth.js';
import {
  connected, disconnectAll, nextEvent, pusherJs, record, restClient, subscribed, uniqueName,
} from './lib/clients.js';
import { startServer } from './lib/server.js';

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

async function client(userId = 'u1', name = 'User One') {
  const c = pusherJs(server, { authEndpoint: auth.url, params: { user_id: userId, user_name: name } });
  await connected(c);
  return c;
}

async function json(responsePromise) {
  const response = await responsePromise;
  assert.equal(response.status, 200, `HTTP ${response.status}`);
  return response.json();
}

test('trigger to several channels reaches every channel', async () => {
  const c = await client();
  const names = [uniqueName('multi-a-'), uniqueName('multi-b-'), uniqueName('private-multi-c-')];
  const channels = [];
  for (const name of names) channels.push(await subscribed(c, name));

  const arrivals = channels.map((ch) => nextEvent(ch, 'fan-out'));
  await json(rest.trigger(names, 'fan-out', { n: 1 }));
  for (const arrival of arrivals) assert.deepEqual((await arrival).data, { n: 1 });
});

test('trigger with info=subscription_count reports each channel', async () => {
  const [a, b] = [await client(), await client()];
  const name = uniqueName('counted-');
  await subscribed(a, name);
  await subscribed(b, name);
  const body = await json(rest.trigger(name, 'counted', {}, { info: 'subscription_count' }));
  assert.deepEqual(body, { channels: { [name]: { subscription_count: 2 } } });
});

test('triggerBatch delivers each entry to its own channel', async () => {
  const c = await client();
  const first = uniqueName('batch-a-');
  const second = uniqueName('batch-b-');
  const chA = await subscribed(c, first);
  const chB = await subscribed(c, second);
  const seenA = record(chA);

  const atA = nextEvent(chA, 'e1');
  const atB = nextEvent(chB, 'e2');
  const body = await json(rest.triggerBatch([
    { channel: first, name: 'e1', data: { x: 1 } },
    { channel: second, name: 'e2', data: 'plain' },
    { channel: first, name: 'e3', data: { x: 3 } },
  ]));
  assert.deepEqual(body, {});
  assert.deepEqual((await atA).data, { x: 1 });
  assert.equal((await atB).data, 'plain');
  await seenA.until('e3');
  assert.deepEqual(seenA.events.filter((e) => !e.event.startsWith('pusher')).map((e) => [e.event, e.data]),
    [['e1', { x: 1 }], ['e3', { x: 3 }]]);
});

test('trigger with socket_id skips that connection and still reaches the others', async () => {
  const [excluded, other] = [await client(), await client()];
  const name = uniqueName('exclusion-');
  const excludedChannel = await subscribed(excluded, name);
  const otherChannel = await subscribed(other, name);
  const excludedSees = record(excludedChannel);
  const otherSees = record(otherChannel);

  await json(rest.trigger(name, 'skip-me', { n: 1 }, { socket_id: excluded.connection.socket_id }));
  await json(rest.trigger(name, 'marker', { n: 2 }));

  // Events on one channel arrive in order: once the marker is in, the first
  // event would have been too.
  await excludedSees.until('marker');
  await otherSees.until('marker');
  const userEvents = (seen) => seen.names().filter((n) => !n.startsWith('pusher'));
  assert.deepEqual(userEvents(excludedSees), ['marker']);
  assert.deepEqual(userEvents(otherSees), ['skip-me', 'marker']);
});

test('triggerBatch honours socket_id per entry', async () => {
  const [excluded, other] = [await client(), await client()];
  const name = uniqueName('batch-exclusion-');
  const excludedSees = record(await subscribed(excluded, name));
  const otherSees = record(await subscribed(other, name));

  await json(rest.triggerBatch([
    { channel: name, name: 'skip-me', data: {}, socket_id: excluded.connection.socket_id },
    { channel: name, name: 'marker', data: {} },
  ]));
  await excludedSees.until('marker');
  await otherSees.until('marker');
  const userEvents = (seen) => seen.names().filter((n) => !n.startsWith('pusher'));
  assert.deepEqual(userEvents(excludedSees), ['marker']);
  assert.deepEqual(userEvents(otherSees), ['skip-me', 'marker']);
});

test('GET /channels lists the occupied channels', async () => {
  const c = await client();
  const names = [uniqueName('listed-'), uniqueName('private-listed-')];
  for (const name of names) await subscribed(c, name);
  const body = await json(rest.get({ path: '/channels' }));
  for (const name of names) assert.deepEqual(body.channels[name], {}, `${name} in ${JSON.stringify(body)}`);

  const filtered = await json(rest.get({ path: '/channels', params: { filter_by_prefix: 'private-listed-' } }));
  assert.deepEqual(Object.keys(filtered.channels).filter((n) => n === names[1]), [names[1]]);
  assert.ok(!(names[0] in filtered.channels), 'the prefix filter leaves other channels out');
});

test('GET /channels with filter_by_prefix=presence- and info=user_count', async () => {
  const room = uniqueName('presence-count-');
  await subscribed(await client('p1', 'P1'), room);
  await subscribed(await client('p2', 'P2'), room);
  await subscribed(await client('p2', 'P2 again'), room);
  const body = await json(rest.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } }));
  assert.deepEqual(body.channels[room], { user_count: 2 });
  for (const name of Object.keys(body.channels)) assert.ok(name.startsWith('presence-'), name);
});

test('GET /channels/{name} with info=subscription_count', async () => {
  const name = uniqueName('info-');
  await subscribed(await client(), name);
  await subscribed(await client(), name);
  const body = await json(rest.get({ path: `/channels/${name}`, params: { info: 'subscription_count' } }));
  assert.deepEqual(body, { occupied: true, subscription_count: 2 });

  const empty = await json(rest.get({ path: `/channels/${uniqueName('nobody-')}` }));
  assert.equal(empty.occupied, false);
});

test('GET /channels/{presence}/users lists the distinct user ids', async () => {
  const room = uniqueName('presence-users-');
  await subscribed(await client('amy', 'Amy'), room);
  await subscribed(await client('bo', 'Bo'), room);
  await subscribed(await client('bo', 'Bo'), room);
  const body = await json(rest.get({ path: `/channels/${room}/users` }));
  assert.deepEqual(body.users.map((u) => u.id).sort(), ['amy', 'bo']);
});

test('a request signed with the wrong secret is refused with 401', async () => {
  const wrong = restClient(server, { secret: 'not-the-secret' });
  await assert.rejects(wrong.trigger(uniqueName('nope-'), 'e', {}), (err) => {
    assert.equal(err.status, 401);
    return true;
  });
});
