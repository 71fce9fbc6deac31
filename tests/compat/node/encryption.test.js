// The Rust client (pusherable-client) as an app's server side: its example app server
// authorizes pusher-js and encrypts events, and pusher-js (with tweetnacl) decrypts them.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ENCRYPTION_MASTER_KEY } from './lib/auth.js';
import {
  WAIT_MS, connected, disconnectAll, nextEvent, pusherJs, subscribed, uniqueName, within,
} from './lib/clients.js';
import { startServer } from './lib/server.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const READY_LINE = /^app server listening on (http:\/\/\S+)/m;

/**
 * Builds the example (a no-op when it is up to date) and returns its path, as cargo reports
 * it, so that CARGO_TARGET_DIR and the profile are whatever the build used.
 */
function buildAppServer() {
  const cargo = process.env.CARGO ?? 'cargo';
  const build = spawnSync(cargo, [
    'build', '--quiet', '--message-format=json-render-diagnostics',
    '-p', 'pusherable-client', '--example', 'app_server',
  ], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (build.status !== 0) {
    throw new Error(`cargo build of the app_server example failed (${build.status}):\n${build.stderr}`);
  }
  for (const line of build.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const message = JSON.parse(line);
    if (message.reason === 'compiler-artifact' && message.target?.name === 'app_server' && message.executable) {
      return message.executable;
    }
  }
  throw new Error('cargo did not report the app_server executable');
}

/** Starts the example app server against `server` and resolves with its base URL. */
async function startAppServer(server) {
  const { id, key, secret } = server.app;
  const child = spawn(buildAppServer(), [], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PUSHER_URL: `http://${key}:${secret}@${server.host}:${server.port}/apps/${id}`,
      PUSHER_ENCRYPTION_MASTER_KEY_BASE64: ENCRYPTION_MASTER_KEY,
    },
  });
  let output = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { output = (output + chunk).slice(-8000); });
  child.stdout.setEncoding('utf8');
  const url = await within(new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output = (output + chunk).slice(-8000);
      const match = READY_LINE.exec(output);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`app server exited (${code}) before it was ready:\n${output}`)));
    child.once('error', reject);
  }), 'the app server to listen', WAIT_MS);
  return {
    url,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

/** Asks the app server to trigger, as an app's own handler would. */
async function trigger(appServer, channels, event, data) {
  const response = await fetch(`${appServer.url}/trigger`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ channels, event, data }),
  });
  const body = await response.text();
  return { status: response.status, body };
}

let server;
let appServer;

before(async () => {
  server = await startServer();
  appServer = await startAppServer(server);
});

after(async () => {
  disconnectAll();
  await Promise.all([server?.stop(), appServer?.stop()]);
});

test('pusher-js decrypts JSON that the Rust client encrypted', async () => {
  const client = pusherJs(server, { authEndpoint: `${appServer.url}/pusher/auth` });
  await connected(client);
  const name = uniqueName('private-encrypted-rust-');
  const channel = await subscribed(client, name);

  const payload = { secret: 'only for subscribers', amount: 42, nested: { list: [1, 'two'] } };
  const arrival = nextEvent(channel, 'sealed');
  const sent = await trigger(appServer, [name], 'sealed', payload);
  assert.equal(sent.status, 200, sent.body);
  assert.deepEqual((await arrival).data, payload);
});

test('pusher-js decrypts a plain string, non-ASCII included', async () => {
  const client = pusherJs(server, { authEndpoint: `${appServer.url}/pusher/auth` });
  await connected(client);
  const name = uniqueName('private-encrypted-text-');
  const channel = await subscribed(client, name);

  const arrival = nextEvent(channel, 'note');
  const sent = await trigger(appServer, [name], 'note', 'déjà vu — 東京');
  assert.equal(sent.status, 200, sent.body);
  assert.equal((await arrival).data, 'déjà vu — 東京');
});

test('the Rust client refuses an encrypted channel among others before sending', async () => {
  const sent = await trigger(
    appServer,
    [uniqueName('private-encrypted-a-'), uniqueName('public-b-')],
    'sealed',
    { x: 1 },
  );
  assert.equal(sent.status, 400, sent.body);
  assert.match(sent.body, /private-encrypted-/);
});

test('a presence member signed by the Rust client is what pusher-js sees', async () => {
  const client = pusherJs(server, {
    authEndpoint: `${appServer.url}/pusher/auth`,
    params: { user_id: 'rust-7', user_name: 'Ferris' },
  });
  await connected(client);
  const channel = await subscribed(client, uniqueName('presence-rust-'));
  assert.equal(channel.members.count, 1);
  assert.deepEqual(channel.members.me, { id: 'rust-7', info: { name: 'Ferris' } });
});
