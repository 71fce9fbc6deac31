// A webhook receiver as an app would run one: a plain node HTTP server that
// checks every request with the npm `pusher` library's webhook().isValid().

import http from 'node:http';
import Pusher from 'pusher';

import { APP } from './server.js';
import { WAIT_MS, within } from './clients.js';

/**
 * Starts a receiver on 127.0.0.1 with a free port.
 *
 * Every request is kept in `requests` as `{headers, rawBody, valid, body}`,
 * where `valid` is npm `isValid()` for `app` and `body` the parsed JSON. The
 * events of all requests, in arrival order, are in `events`.
 *
 * `hold()` makes the receiver keep the next request waiting until the returned
 * `release()` is called, so that the server queues what happens meanwhile.
 */
export async function startWebhookReceiver({ app = APP } = {}) {
  const pusher = new Pusher({ appId: app.id, key: app.key, secret: app.secret });
  const requests = [];
  const events = [];
  const waiters = new Set();
  let held = null;

  const server = http.createServer((req, res) => {
    let rawBody = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { rawBody += chunk; });
    req.on('end', async () => {
      const webhook = pusher.webhook({ headers: req.headers, rawBody });
      const valid = webhook.isValid();
      let body = null;
      try {
        body = JSON.parse(rawBody);
      } catch {
        // Kept as null; the test reports the raw body.
      }
      const request = { method: req.method, url: req.url, headers: req.headers, rawBody, valid, body };
      if (held) {
        const gate = held;
        held = null;
        gate.arrived(request);
        await gate.released;
      }
      requests.push(request);
      for (const event of body?.events ?? []) events.push(event);
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
      for (const waiter of [...waiters]) waiter();
    });
  });

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/pusher/webhooks`,
    requests,
    events,
    /**
     * Resolves with the first event matching `match` (a predicate over an
     * event), once its request has been answered.
     */
    until(match, what, ms = WAIT_MS) {
      return within(new Promise((resolve) => {
        const check = () => {
          const found = events.find(match);
          if (!found) return;
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        check();
      }), `webhook ${what} (received so far: ${JSON.stringify(events)})`, ms);
    },
    /**
     * Holds the next request. Resolves `arrived` with it once it is in; it is
     * answered (and recorded) only after `release()`.
     */
    hold() {
      let release;
      const released = new Promise((resolve) => { release = resolve; });
      const arrived = within(new Promise((resolve) => {
        held = { arrived: resolve, released };
      }), 'a webhook request to hold');
      return { arrived, release };
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
