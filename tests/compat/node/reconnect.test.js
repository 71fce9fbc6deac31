// pusher-js reconnects by itself when the server goes away and a new one comes
// up on the same address, and resubscribes to its channels.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startAuthEndpoint } from './lib/auth.js';
import {
  connected, disconnectAll, nextEvent, pusherJs, restClient, subscribed, uniqueName, within,
} from './lib/clients.js';
import { startServer } from './lib/server.js';

// pusher-js retries 1 s after a close, then waits out its 15 s transport timeout
// before the next attempt if that one found nothing listening.
const RECONNECT_MS = 40_000;

let auth;
const servers = [];

before(async () => {
  auth = await startAuthEndpoint();
});

after(async () => {
  disconnectAll();
  await Promise.all([...servers.map((s) => s.stop('SIGKILL')), auth?.close()]);
});

async function serve(options) {
  const server = await startServer(options);
  servers.push(server);
  return server;
}

/** Records every connection state pusher-js goes through, in order. */
function stateLog(client) {
  const states = [];
  const listeners = new Set();
  client.connection.bind('state_change', ({ current }) => {
    states.push(current);
    for (const listener of [...listeners]) listener();
  });
  return {
    states,
    /** Resolves when `state` appears at index `from` or later; fails fast on a final state. */
    reached(state, from, ms) {
      return within(new Promise((resolve, reject) => {
        const check = () => {
          const tail = states.slice(from);
          if (tail.includes(state)) {
            listeners.delete(check);
            resolve();
          } else if (tail.includes('disconnected') || tail.includes('failed')) {
            listeners.delete(check);
            reject(new Error(`pusher-js gave up reconnecting: states ${JSON.stringify(states)}`));
          }
        };
        listeners.add(check);
        check();
      }), `state "${state}" (states so far: ${JSON.stringify(states)})`, ms);
    },
  };
}

async function restartScenario(signal) {
  const first = await serve();
  const client = pusherJs(first, { authEndpoint: auth.url });
  const log = stateLog(client);
  const oldSocketId = await connected(client);
  const publicName = uniqueName('public-restart-');
  const privateName = uniqueName('private-restart-');
  const publicChannel = await subscribed(client, publicName);
  const privateChannel = await subscribed(client, privateName);

  const resubscribedPublic = nextEvent(publicChannel, 'pusher:subscription_succeeded', RECONNECT_MS);
  const resubscribedPrivate = nextEvent(privateChannel, 'pusher:subscription_succeeded', RECONNECT_MS);
  const mark = log.states.length;
  await first.stop(signal);
  const second = await serve({ port: first.port });
  assert.equal(second.port, first.port);

  await log.reached('connecting', mark, RECONNECT_MS);
  const reconnectedAt = log.states.indexOf('connecting', mark);
  await log.reached('connected', reconnectedAt, RECONNECT_MS);
  const newSocketId = client.connection.socket_id;
  assert.match(newSocketId, /^\d+\.\d+$/);
  assert.notEqual(newSocketId, oldSocketId, 'a new server hands out a new socket id');

  await Promise.all([resubscribedPublic, resubscribedPrivate]);
  assert.ok(auth.requests.some((r) => r.channel === privateName && r.socketId === newSocketId),
    'the private channel was authorized again for the new socket id');

  const rest = restClient(second);
  const publicEvent = nextEvent(publicChannel, 'after-restart');
  const privateEvent = nextEvent(privateChannel, 'after-restart');
  await rest.trigger([publicName, privateName], 'after-restart', { ok: true });
  assert.deepEqual((await publicEvent).data, { ok: true });
  assert.deepEqual((await privateEvent).data, { ok: true });
}

test('pusher-js reconnects and resubscribes after the server crashes and comes back on the same port',
  { timeout: 90_000 }, () => restartScenario('SIGKILL'));

test('pusher-js reconnects and resubscribes after a graceful server restart on the same port',
  { timeout: 90_000 }, () => restartScenario('SIGTERM'));
