// Presence channels: the member list, member_added / member_removed and counts,
// as pusher-js sees them.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startAuthEndpoint } from './lib/auth.js';
import {
  connected, disconnect, disconnectAll, nextEvent, pusherJs, record, subscribed, uniqueName,
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

/** A connected pusher-js client whose presence identity is `userId`. */
async function member(userId, name) {
  const client = pusherJs(server, { authEndpoint: auth.url, params: { user_id: userId, user_name: name } });
  await connected(client);
  return client;
}

function memberList(channel) {
  const list = [];
  channel.members.each((m) => list.push({ id: m.id, info: m.info }));
  return list.sort((a, b) => a.id.localeCompare(b.id));
}

test('members list, member_added, member_removed and members.count', async () => {
  const room = uniqueName('presence-room-');
  const alice = await member('alice', 'Alice');
  const aliceChannel = await subscribed(alice, room);
  assert.equal(aliceChannel.members.count, 1);
  assert.equal(aliceChannel.members.me.id, 'alice');
  assert.deepEqual(aliceChannel.members.me.info, { name: 'Alice' });

  const bob = await member('bob', 'Bob');
  const added = nextEvent(aliceChannel, 'pusher:member_added');
  const bobChannel = await subscribed(bob, room);
  assert.equal(bobChannel.members.count, 2);
  assert.deepEqual(memberList(bobChannel), [
    { id: 'alice', info: { name: 'Alice' } },
    { id: 'bob', info: { name: 'Bob' } },
  ]);
  assert.equal(bobChannel.members.me.id, 'bob');

  const { data: joined } = await added;
  assert.equal(joined.id, 'bob');
  assert.deepEqual(joined.info, { name: 'Bob' });
  assert.equal(aliceChannel.members.count, 2);

  const removed = nextEvent(aliceChannel, 'pusher:member_removed');
  disconnect(bob);
  const { data: left } = await removed;
  assert.equal(left.id, 'bob');
  assert.equal(aliceChannel.members.count, 1);
  assert.deepEqual(memberList(aliceChannel), [{ id: 'alice', info: { name: 'Alice' } }]);
});

test('unsubscribing removes the member for the others', async () => {
  const room = uniqueName('presence-unsub-');
  const alice = await member('alice', 'Alice');
  const aliceChannel = await subscribed(alice, room);
  const bob = await member('bob', 'Bob');
  const added = nextEvent(aliceChannel, 'pusher:member_added');
  await subscribed(bob, room);
  await added;

  const removed = nextEvent(aliceChannel, 'pusher:member_removed');
  bob.unsubscribe(room);
  const { data } = await removed;
  assert.equal(data.id, 'bob');
  assert.equal(aliceChannel.members.count, 1);
});

test('a user with two connections is one member, added once and removed with the last connection', async () => {
  const room = uniqueName('presence-tabs-');
  // A second presence channel that only dana's first connection joins: its
  // member_removed tells the watcher that the server has handled that close.
  const probe = uniqueName('presence-probe-');
  const watcher = await member('watcher', 'Watcher');
  const watcherRoom = await subscribed(watcher, room);
  const watcherProbe = await subscribed(watcher, probe);
  const seen = record(watcherRoom);

  const firstTab = await member('dana', 'Dana');
  await subscribed(firstTab, room);
  await subscribed(firstTab, probe);
  await seen.until('pusher:member_added');

  const secondTab = await member('dana', 'Dana');
  const secondRoom = await subscribed(secondTab, room);
  assert.equal(secondRoom.members.count, 2, 'two distinct users: watcher and dana');
  assert.deepEqual(memberList(secondRoom).map((m) => m.id), ['dana', 'watcher']);

  const probeRemoved = nextEvent(watcherProbe, 'pusher:member_removed');
  disconnect(firstTab);
  assert.equal((await probeRemoved).data.id, 'dana');

  const erin = await member('erin', 'Erin');
  const erinRoom = await subscribed(erin, room);
  assert.equal(erinRoom.members.count, 3);
  await seen.until((e) => e.event === 'pusher:member_added' && e.data.id === 'erin');
  assert.deepEqual(
    seen.events.filter((e) => e.event.startsWith('pusher:member_')).map((e) => [e.event, e.data.id]),
    [['pusher:member_added', 'dana'], ['pusher:member_added', 'erin']],
  );
  assert.equal(watcherRoom.members.count, 3);

  const danaGone = nextEvent(watcherRoom, 'pusher:member_removed');
  disconnect(secondTab);
  assert.equal((await danaGone).data.id, 'dana');
  assert.equal(watcherRoom.members.count, 2);
});
