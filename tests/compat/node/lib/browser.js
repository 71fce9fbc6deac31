// pusher-js in a process of its own, the way a browser tab holds it, driven by
// another program over stdin and stdout. The Python suite uses it to put the
// official client in front of the PyPI library, and the TLS test to give
// pusher-js a CA through NODE_EXTRA_CA_CERTS, which node reads only at start.
//
//   node browser.js '{"host":"127.0.0.1","port":6001,"key":"…", …}'
//
// The argument holds `host`, `port`, `key`, and optionally `tls` (wss://),
// `authEndpoint`, `params`, `userAuthEndpoint`, `userParams`.
//
// Commands, one JSON object a line on stdin:
//   {"do":"signin"}                       then {"type":"signed_in","user":{…}} or {"type":"signin_failed"}
//   {"do":"subscribe","channel":"c"}      channel events come as {"type":"channel",…}
//   {"do":"unsubscribe","channel":"c"}
//   {"do":"trigger","channel":"c","event":"client-x","data":…}
//   {"do":"inspect"}                      then {"type":"inspect","state":…,"retry_pending":bool,…}
//   {"do":"disconnect"}
//   {"do":"exit"}
//
// Reports, one JSON object a line on stdout, in the order pusher-js saw things:
//   {"type":"state","previous":…,"current":…,"socket_id":…}
//   {"type":"error","error":…}             the connection's error events
//   {"type":"user","event":…,"data":…}     pusher.user events
//   {"type":"watchlist","event":…,"data":…}
//   {"type":"channel","channel":…,"event":…,"data":…}
//   {"type":"failed","command":…,"error":…} a command that could not run

import readline from 'node:readline';

import { pusherJs, signedIn } from './clients.js';

const settings = JSON.parse(process.argv[2] ?? '{}');

function report(message) {
  process.stdout.write(`${JSON.stringify(message, (_, value) => (
    value instanceof Error ? { name: value.name, message: value.message } : value
  ))}\n`);
}

const client = pusherJs(
  { host: settings.host, port: settings.port, app: { key: settings.key } },
  {
    authEndpoint: settings.authEndpoint,
    params: settings.params,
    userAuthEndpoint: settings.userAuthEndpoint,
    userParams: settings.userParams,
    tls: Boolean(settings.tls),
  },
);

client.connection.bind('state_change', ({ previous, current }) => {
  report({ type: 'state', previous, current, socket_id: client.connection.socket_id ?? null });
});
client.connection.bind('error', (error) => report({ type: 'error', error }));
client.user.bind_global((event, data) => report({ type: 'user', event, data }));
client.user.watchlist.bind_global((event, data) => report({ type: 'watchlist', event, data }));

const commands = {
  async signin() {
    try {
      report({ type: 'signed_in', user: await signedIn(client) });
    } catch (error) {
      report({ type: 'signin_failed', error });
    }
  },
  subscribe({ channel: name }) {
    client.subscribe(name).bind_global((event, data) => report({ type: 'channel', channel: name, event, data }));
  },
  unsubscribe({ channel }) {
    client.unsubscribe(channel);
  },
  trigger({ channel, event, data }) {
    const sent = client.channel(channel)?.trigger(event, data);
    if (!sent) report({ type: 'failed', command: 'trigger', error: `could not send ${event} on ${channel}` });
  },
  inspect() {
    const manager = client.connection;
    report({
      type: 'inspect',
      state: manager.state,
      socket_id: manager.socket_id ?? null,
      // Whether pusher-js is trying to connect or has a retry scheduled: a
      // disconnected client without either stays disconnected until the app
      // calls connect().
      retry_pending: Boolean(manager.runner || manager.retryTimer?.isRunning()),
      user: client.user.user_data,
    });
  },
  disconnect() {
    client.disconnect();
  },
  exit() {
    client.disconnect();
    // A socket the server closed may leave pusher-js's WebSocket library with a
    // close timer; there is nothing left to wait for.
    process.exit(0);
  },
};

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    report({ type: 'failed', command: line, error });
    return;
  }
  const run = commands[command.do];
  if (!run) {
    report({ type: 'failed', command: command.do, error: 'unknown command' });
    return;
  }
  run(command);
});
input.on('close', () => commands.exit());
