// pusher-js and npm `pusher` pointed at a local server, plus waits that fail
// with a clear message instead of hanging.

import Pusher from 'pusher';
import PusherJS from 'pusher-js';
import nacl from 'tweetnacl';

export const WAIT_MS = 10_000;

/** An npm `pusher` REST client for the server's first app. */
export function restClient(server, overrides = {}) {
  const app = server.app;
  return new Pusher({
    appId: app.id,
    key: app.key,
    secret: app.secret,
    host: server.host,
    port: server.port,
    useTLS: false,
    timeout: WAIT_MS,
    ...overrides,
  });
}

/**
 * Rejects after `ms` unless `promise` settles first. `what` names the thing
 * waited for in the failure message.
 */
export function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Every pusher-js client made here, so that a test file can close them all. */
const openClients = new Set();

/**
 * A pusher-js client (node build) with the options of PROTOCOL.md §7.1. It starts
 * connecting at once; use `connected()` to wait for the handshake.
 *
 * @param {object} server from startServer
 * @param {{authEndpoint?: string, params?: object, port?: number, app?: object,
 *   userAuthEndpoint?: string, userParams?: object, tls?: boolean}} [options]
 *   `app` picks another of the server's apps; `userAuthEndpoint` and `userParams`
 *   set `userAuthentication`, for `signin()`; `tls` connects with `wss://`.
 */
export function pusherJs(server, {
  authEndpoint, params, port, app, userAuthEndpoint, userParams, tls = false,
} = {}) {
  const options = {
    cluster: 'mt1',
    wsHost: server.host,
    wsPort: port ?? server.port,
    wssPort: port ?? server.port,
    forceTLS: tls,
    enabledTransports: ['ws'],
    // Needed for private-encrypted-* channels; the node build takes it as an option.
    nacl,
  };
  if (authEndpoint) {
    options.channelAuthorization = { endpoint: authEndpoint, transport: 'ajax', params: params ?? {} };
  }
  if (userAuthEndpoint) {
    options.userAuthentication = { endpoint: userAuthEndpoint, transport: 'ajax', params: userParams ?? {} };
  }
  const client = new PusherJS((app ?? server.app).key, options);
  openClients.add(client);
  return client;
}

export function disconnect(client) {
  client.disconnect();
  openClients.delete(client);
}

export function disconnectAll() {
  for (const client of openClients) client.disconnect();
  openClients.clear();
}

/** Resolves when the client's connection state becomes `state`. */
export function stateReached(client, state, ms = WAIT_MS) {
  return within(new Promise((resolve) => {
    if (client.connection.state === state) {
      resolve();
      return;
    }
    const onChange = ({ current }) => {
      if (current === state) {
        client.connection.unbind('state_change', onChange);
        resolve();
      }
    };
    client.connection.bind('state_change', onChange);
  }), `connection state "${state}" (now "${client.connection.state}")`, ms);
}

/** Waits for the handshake and returns the socket id. */
export async function connected(client, ms = WAIT_MS) {
  await stateReached(client, 'connected', ms);
  return client.connection.socket_id;
}

/**
 * Resolves with `{data, metadata}` the next time `channel` emits `event`.
 * Call it before the action that causes the event.
 */
export function nextEvent(channel, event, ms = WAIT_MS) {
  return within(new Promise((resolve) => {
    const handler = (data, metadata) => {
      channel.unbind(event, handler);
      resolve({ data, metadata });
    };
    channel.bind(event, handler);
  }), `"${event}" on ${channel.name}`, ms);
}

/**
 * Subscribes and waits for the outcome. Resolves with the channel on success;
 * rejects with the `pusher:subscription_error` payload otherwise.
 */
export async function subscribed(client, name, ms = WAIT_MS) {
  const channel = client.subscribe(name);
  const outcome = new Promise((resolve, reject) => {
    const ok = () => { cleanup(); resolve(channel); };
    const failed = (status) => {
      cleanup();
      reject(Object.assign(new Error(`subscription to ${name} failed: ${JSON.stringify(status)}`), { status }));
    };
    const cleanup = () => {
      channel.unbind('pusher:subscription_succeeded', ok);
      channel.unbind('pusher:subscription_error', failed);
    };
    channel.bind('pusher:subscription_succeeded', ok);
    channel.bind('pusher:subscription_error', failed);
  });
  return within(outcome, `subscription to ${name}`, ms);
}

/**
 * Calls pusher-js's `signin()` and resolves with the user data once the server
 * has confirmed the sign-in and pusher-js's own `#server-to-user-{id}`
 * subscription has succeeded: from then on, events sent to the user reach
 * `client.user`. Rejects on a sign-in error or a refused user channel.
 */
export function signedIn(client, ms = WAIT_MS) {
  const outcome = new Promise((resolve, reject) => {
    const userChannel = () => client.user.user_data && `#server-to-user-${client.user.user_data.id}`;
    const fail = (what) => {
      cleanup();
      reject(new Error(`sign-in failed: ${JSON.stringify(what)}`));
    };
    const onMessage = (message) => {
      if (message.channel && message.channel === userChannel()) {
        if (message.event === 'pusher_internal:subscription_succeeded') {
          cleanup();
          resolve(client.user.user_data);
        } else if (message.event === 'pusher:subscription_error') {
          fail(message);
        }
      } else if (message.event === 'pusher:error') {
        fail(message);
      }
    };
    const cleanup = () => {
      client.connection.unbind('message', onMessage);
      client.user.unbind('pusher:signin_error', fail);
    };
    client.connection.bind('message', onMessage);
    client.user.bind('pusher:signin_error', fail);
  });
  client.signin();
  return within(outcome, 'sign-in and the user channel', ms);
}

/**
 * Records every event a channel emits (pusher-js's bind_global), in order.
 * `until(match)` resolves with the list once an event matching `match` (an
 * event name, or a predicate over `{event, data}`) has been seen. Works on any
 * pusher-js dispatcher: `client.user` and `client.user.watchlist` too, then
 * with a `label` for failure messages.
 */
export function record(channel, label = channel.name) {
  const events = [];
  const waiters = new Set();
  channel.bind_global((event, data) => {
    events.push({ event, data });
    for (const waiter of [...waiters]) waiter();
  });
  return {
    events,
    names: () => events.map((e) => e.event),
    until(match, ms = WAIT_MS) {
      const test = typeof match === 'function' ? match : (e) => e.event === match;
      return within(new Promise((resolve) => {
        const check = () => {
          if (!events.some(test)) return;
          waiters.delete(check);
          resolve(events);
        };
        waiters.add(check);
        check();
      }), `${typeof match === 'function' ? 'a matching event' : `"${match}"`} on ${label} `
        + `(seen so far: ${JSON.stringify(events.map((e) => e.event))})`, ms);
    },
  };
}

let counter = 0;
/** A channel name no other test in this process uses. */
export function uniqueName(prefix) {
  counter += 1;
  return `${prefix}${process.pid}-${counter}`;
}
