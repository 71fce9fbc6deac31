// Client events (client-*) between pusher-js clients: relayed to the others,
// never echoed to the sender, tagged with user_id on presence channels.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startAuthEndpoint } from './lib/auth.js';
import {
  connected, disconnectAll, nextEvent, pusherJs, record, subscribed, uniqueName,
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

async function pair(channelName) {
  const clients = [];
  for (const [userId, name] of [['ann', 'Ann'], ['ben', 'Ben']]) {
    const client = pusherJs(server, { authEndpoint: auth.url, params: { user_id: userId, user_name: name } });
    await connected(client);
    clients.push(client);
  }
  const channels = [];
  for (const client of clients) channels.push(await subscribed(client, channelName));
  return channels;
}

test('a client event on a private channel reaches the other client and is not echoed', async () => {
  const [annChannel, benChannel] = await pair(uniqueName('private-chat-'));
  const annSees = record(annChannel);

  const atBen = nextEvent(benChannel, 'client-typing');
  assert.equal(annChannel.trigger('client-typing', { who: 'ann', text: 'hé' }), true);
  const { data } = await atBen;
  assert.deepEqual(data, { who: 'ann', text: 'hé' });

  // Ben's reply reaches Ann after her own event would have, had it been echoed.
  const atAnn = nextEvent(annChannel, 'client-reply');
  benChannel.trigger('client-reply', { who: 'ben' });
  assert.deepEqual((await atAnn).data, { who: 'ben' });
  assert.deepEqual(annSees.names().filter((n) => n.startsWith('client-')), ['client-reply']);
});

test('a client event with string data arrives as that string', async () => {
  const [annChannel, benChannel] = await pair(uniqueName('private-strings-'));
  const atBen = nextEvent(benChannel, 'client-note');
  annChannel.trigger('client-note', 'just text');
  assert.equal((await atBen).data, 'just text');
});

test('a client event on a presence channel carries the sender user_id in metadata', async () => {
  const [annChannel, benChannel] = await pair(uniqueName('presence-chat-'));
  const annSees = record(annChannel);

  const atBen = nextEvent(benChannel, 'client-hi');
  annChannel.trigger('client-hi', { text: 'hello' });
  const { data, metadata } = await atBen;
  assert.deepEqual(data, { text: 'hello' });
  assert.equal(metadata?.user_id, 'ann');

  const atAnn = nextEvent(annChannel, 'client-hi');
  benChannel.trigger('client-hi', { text: 'hi back' });
  const reply = await atAnn;
  assert.deepEqual(reply.data, { text: 'hi back' });
  assert.equal(reply.metadata?.user_id, 'ben');
  // An echo of Ann's own event would have reached her before Ben's reply.
  assert.deepEqual(annSees.events.filter((e) => e.event === 'client-hi').map((e) => e.data), [{ text: 'hi back' }]);
});
