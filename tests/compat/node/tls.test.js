// TLS: the server with a certificate made at test time (`tls = { cert, key }`),
// pusher-js connecting with wss:// (forceTLS) and npm `pusher` calling the REST
// API over https.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { startAuthEndpoint } from './lib/auth.js';
import { startBrowser } from './lib/browser-process.js';
import { restClient, uniqueName } from './lib/clients.js';
import { startServer } from './lib/server.js';

let dir;
let certPath;
let server;
let auth;
let rest;
const browsers = [];

/** A self-signed certificate for 127.0.0.1 and localhost, valid for a day. */
function makeCertificate() {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pusherable-tls-'));
  certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=pusherable test',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { cert: certPath, key: keyPath };
}

before(async () => {
  const tls = makeCertificate();
  [server, auth] = await Promise.all([startServer({ settings: { tls } }), startAuthEndpoint()]);
  rest = restClient(server, {
    useTLS: true,
    agent: new https.Agent({ ca: fs.readFileSync(certPath) }),
  });
});

after(async () => {
  await Promise.all(browsers.map((b) => b.close()));
  await Promise.all([server?.stop(), auth?.close()]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** pusher-js over wss://, in a process that trusts the test certificate. */
async function wssClient(settings = {}) {
  const browser = startBrowser({
    host: server.host,
    port: server.port,
    key: server.app.key,
    tls: true,
    authEndpoint: auth.url,
    userAuthEndpoint: auth.userUrl,
    ...settings,
  }, { NODE_EXTRA_CA_CERTS: certPath });
  browsers.push(browser);
  await browser.until((r) => r.type === 'state' && r.current === 'connected', 'connected');
  return browser;
}

const channelEvent = (channel, event) => (r) => r.type === 'channel' && r.channel === channel && r.event === event;

test('the server says it listens on https', () => {
  assert.equal(server.scheme, 'https');
});

test('pusher-js connects over wss:// and gets events npm pusher triggers over https', async () => {
  const browser = await wssClient();
  const publicName = uniqueName('tls-news-');
  const privateName = uniqueName('private-tls-');
  for (const name of [publicName, privateName]) {
    browser.do('subscribe', { channel: name });
    await browser.until(channelEvent(name, 'pusher:subscription_succeeded'), `subscription to ${name}`);
  }

  const response = await rest.trigger([publicName, privateName], 'headline', { text: 'over TLS' });
  assert.deepEqual(await response.json(), {});
  for (const name of [publicName, privateName]) {
    const report = await browser.until(channelEvent(name, 'headline'), `"headline" on ${name}`);
    assert.deepEqual(report.data, { text: 'over TLS' });
  }
  const info = await rest.get({ path: `/channels/${publicName}`, params: { info: 'subscription_count' } });
  assert.deepEqual(await info.json(), { occupied: true, subscription_count: 1 });
});

test('pusher-js signs in over wss:// and gets sendToUser events', async () => {
  const userId = uniqueName('tls-user-');
  const browser = await wssClient({ userParams: { user_id: userId, user_name: 'TLS' } });
  browser.do('signin');
  const signedIn = await browser.until((r) => r.type === 'signed_in' || r.type === 'signin_failed', 'sign-in');
  assert.equal(signedIn.type, 'signed_in', JSON.stringify(signedIn));

  await rest.sendToUser(userId, 'secure-note', { ok: true });
  const report = await browser.until((r) => r.type === 'user' && r.event === 'secure-note', 'the user event');
  assert.deepEqual(report.data, { ok: true });
});

test('a client that does not trust the certificate is refused, and plain http gets no answer', async () => {
  const untrusting = restClient(server, { useTLS: true });
  await assert.rejects(untrusting.trigger(uniqueName('tls-'), 'e', {}), (err) => {
    assert.equal(err.status, undefined, 'no HTTP answer without trusting the certificate');
    assert.match(`${err.error?.code} ${err.error?.message}`, /SELF_SIGNED|certificate/i);
    return true;
  });
  const plain = restClient(server, { useTLS: false });
  await assert.rejects(plain.trigger(uniqueName('tls-'), 'e', {}), (err) => {
    assert.equal(err.status, undefined, `plain http got an HTTP answer: ${err.status} ${err.body}`);
    return true;
  });
});
