// A tiny app server that authorizes channels the way a real app would: with the
// npm `pusher` library's authorizeChannel, behind pusher-js's ajax transport.

import http from 'node:http';
import Pusher from 'pusher';

import { APP } from './server.js';

const WRONG_SECRET = '0000000000000000000000000000000000000000';

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

/**
 * Starts the auth endpoint on 127.0.0.1 with a free port.
 *
 * Routes:
 *   POST /auth              signed with the app's secret
 *   POST /auth/wrong-secret signed with a secret the server does not know
 *
 * Presence members come from the `user_id` and `user_name` form fields, which the
 * tests put in `channelAuthorization.params`.
 */
export async function startAuthEndpoint({ app = APP } = {}) {
  const signers = {
    '/auth': new Pusher({ appId: app.id, key: app.key, secret: app.secret }),
    '/auth/wrong-secret': new Pusher({ appId: app.id, key: app.key, secret: WRONG_SECRET }),
  };
  const requests = [];

  const server = http.createServer(async (req, res) => {
    const signer = signers[req.url];
    if (req.method !== 'POST' || !signer) {
      res.writeHead(404).end();
      return;
    }
    const form = await readForm(req);
    const socketId = form.get('socket_id');
    const channel = form.get('channel_name');
    requests.push({ path: req.url, socketId, channel });
    let body;
    try {
      if (channel.startsWith('presence-')) {
        body = signer.authorizeChannel(socketId, channel, {
          user_id: form.get('user_id'),
          user_info: { name: form.get('user_name') },
        });
      } else {
        body = signer.authorizeChannel(socketId, channel);
      }
    } catch (err) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end(String(err));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  });

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/auth`,
    wrongSecretUrl: `http://127.0.0.1:${port}/auth/wrong-secret`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
