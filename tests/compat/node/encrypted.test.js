// End-to-end encrypted channels (private-encrypted-*): the server authorizes them
// like private channels and relays the ciphertext untouched; pusher-js decrypts.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ENCRYPTION_MASTER_KEY, startAuthEndpoint } from './lib/auth.js';
import {
  connected, disconnectAll, nextEvent, pusherJs, restClient, subscribed, uniqueName,
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

test('an encrypted channel subscribes and pusher-js decrypts what npm pusher encrypted', async () => {
  const client = pusherJs(server, { authEndpoint: auth.url });
  await connected(client);
  const name = uniqueName('private-encrypted-vault-');
  const channel = await subscribed(client, name);

  const payload = { secret: 'only for subscribers', n: [1, 2, 3] };
  const arrival = nextEvent(channel, 'sealed');
  await rest.trigger(name, 'sealed', payload);
  assert.deepEqual((await arrival).data, payload);
});

test('an encrypted channel refuses a signature made with the wrong secret', async () => {
  const client = pusherJs(server, { authEndpoint: auth.wrongSecretUrl });
  await connected(client);
  const channel = client.subscribe(uniqueName('private-encrypted-denied-'));
  const { data } = await nextEvent(channel, 'pusher:subscription_error');
  assert.equal(data.type, 'AuthError');
});

test('one trigger to several encrypted channels is refused with 400', async () => {
  // The libraries refuse this themselves; a raw signed POST shows the server does too.
  const body = {
    name: 'sealed',
    data: '{"nonce":"AAAA","ciphertext":"AAAA"}',
    channels: [uniqueName('private-encrypted-a-'), uniqueName('private-encrypted-b-')],
  };
  await assert.rejects(rest.post({ path: '/events', body }), (err) => {
    assert.equal(err.status, 400, `status ${err.status}: ${err.body}`);
    return true;
  });
});
