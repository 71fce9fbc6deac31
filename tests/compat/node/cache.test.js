// Cache channels: pusher-js gets the last event triggered with npm `pusher` as
// soon as it subscribes, or `pusher:cache_miss` when nothing is cached.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ENCRYPTION_MASTER_KEY, startAuthEndpoint } from './lib/auth.js';
import {
  connected, disconnectAll, pusherJs, record, restClient, subscribed, uniqueName,
} from './lib/clients.js';
import { startServer } from './lib/server.js';

let server;
let auth;
let rest;

before(async () => {
  [server, auth] = await Promise.all([startServer(), startAuthEndpoint()]);
  rest = restClient(server, { encryptionMasterKeyBase64: ENCRYPTION_MASTER_KEY });
});

after(async () => {
  disconnectAll();
  await Promise.all([server?.stop(), auth?.close()]);
});

/** Subscribes a fresh pusher-js client and records the channel from the start. */
async function subscribeAndRecord(name, options = {}) {
  const client = pusherJs(server, { authEndpoint: auth.url, ...options });
  await connected(client);
  const channel = client.subscribe(name);
  const log = record(channel);
  return { client, channel, log };
}

async function cacheInfo(name) {
  const response = await rest.get({ path: `/channels/${name}`, params: { info: 'cache' } });
  return response.json();
}

test('subscribing to an empty cache channel gives pusher:cache_miss right after subscription_succeeded',
  async () => {
    const name = uniqueName('cache-empty-');
    const { log } = await subscribeAndRecord(name);
    await log.until('pusher:cache_miss');
    assert.deepEqual(log.events, [
      { event: 'pusher:subscription_succeeded', data: {} },
      { event: 'pusher:cache_miss', data: {} },
    ]);
    const info = await cacheInfo(name);
    assert.equal(info.occupied, true);
    assert.equal(info.cache ?? null, null, `an empty cache reads as null: ${JSON.stringify(info)}`);
  });

test('a new subscriber gets the last event triggered on a cache channel, and nothing older', async () => {
  const name = uniqueName('cache-scores-');
  await rest.trigger(name, 'score', { home: 1, away: 0 });
  await rest.trigger(name, 'score', { home: 2, away: 0 });

  const info = await cacheInfo(name);
  assert.equal(info.occupied, false);
  assert.equal(info.cache.data, '{"home":2,"away":0}');
  assert.ok(info.cache.ttl > 0 && info.cache.ttl <= 1800, `ttl ${info.cache.ttl}`);

  const { channel, log } = await subscribeAndRecord(name);
  await log.until('score');
  // Live events follow the replayed one as usual.
  await rest.trigger(name, 'marker', 'done');
  await log.until('marker');
  assert.equal(channel.subscribed, true);
  assert.deepEqual(log.events, [
    { event: 'pusher:subscription_succeeded', data: {} },
    { event: 'score', data: { home: 2, away: 0 } },
    { event: 'marker', data: 'done' },
  ]);
});

test('every subscriber of a cache channel gets the replay, not only the first one', async () => {
  const name = uniqueName('cache-shared-');
  await rest.trigger(name, 'state', 'plain text state');
  const first = await subscribeAndRecord(name);
  const second = await subscribeAndRecord(name);
  for (const { log } of [first, second]) {
    await log.until('state');
    assert.deepEqual(log.names(), ['pusher:subscription_succeeded', 'state']);
    assert.equal(log.events[1].data, 'plain text state');
  }
});

test('private and presence cache channels replay through the auth endpoint', async () => {
  for (const prefix of ['private-cache-', 'presence-cache-']) {
    const name = uniqueName(prefix);
    await rest.trigger(name, 'doc-saved', { rev: 7 });
    const { log } = await subscribeAndRecord(name, { params: { user_id: 'cache-reader', user_name: 'Reader' } });
    await log.until('doc-saved');
    assert.deepEqual(log.names(), ['pusher:subscription_succeeded', 'doc-saved'], name);
    assert.deepEqual(log.events[1].data, { rev: 7 }, name);
  }
});

test('pusher-js decrypts the replay of a private-encrypted-cache channel', async () => {
  const name = uniqueName('private-encrypted-cache-');
  await rest.trigger(name, 'sealed', { secret: 'cached and sealed' });
  const { log } = await subscribeAndRecord(name);
  await log.until('sealed');
  assert.deepEqual(log.names(), ['pusher:subscription_succeeded', 'sealed']);
  assert.deepEqual(log.events[1].data, { secret: 'cached and sealed' });
});

test('client events are not cached: a later subscriber gets the last REST event', async () => {
  const name = uniqueName('private-cache-chat-');
  await rest.trigger(name, 'from-server', { n: 1 });
  const sender = pusherJs(server, { authEndpoint: auth.url });
  await connected(sender);
  const senderChannel = await subscribed(sender, name);
  const watcher = await subscribeAndRecord(name);
  await watcher.log.until('from-server');

  assert.equal(senderChannel.trigger('client-typing', { who: 'sender' }), true);
  await watcher.log.until('client-typing');

  const late = await subscribeAndRecord(name);
  await late.log.until('from-server');
  await rest.trigger(name, 'marker', {});
  await late.log.until('marker');
  assert.deepEqual(late.log.names(), ['pusher:subscription_succeeded', 'from-server', 'marker']);
});
