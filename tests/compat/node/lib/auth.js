// A tiny app server that authorizes channels and signs users in the way a real
// app would: with the npm `pusher` library's authorizeChannel and
// authenticateUser, behind pusher-js's ajax transport.

import http from 'node:http';
import Pusher from 'pusher';

import { APP } from './server.js';

const WRONG_SECRET = '0000000000000000000000000000000000000000';

/**
 * The master key from which the app derives each encrypted channel's key (32
 * bytes of 0x07, as in the protocol reference's vector). The server never sees it.
 */
export const ENCRYPTION_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

async function signIn(signer, req, res, requests) {
  const form = await readForm(req);
  const socketId = form.get('socket_id');
  const user = { id: form.get('user_id'), user_info: { name: form.get('user_name') } };
  if (form.get('watchlist')) user.watchlist = form.get('watchlist').split(',');
  requests.push({ path: req.url, socketId, userId: user.id });
  let body;
  try {
    body = signer.authenticateUser(socketId, user);
  } catch (err) {
    res.writeHead(403, { 'Content-Type': 'text/plain' }).end(String(err));
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * Starts the auth endpoint on 127.0.0.1 with a free port.
 *
 * Routes:
 *   POST /auth              signed with the app's secret
 *   POST /auth/wrong-secret signed with a secret the server does not know
 *   POST /user-auth         user sign-in (pusher-js `userAuthentication`), signed
 *                           with the app's secret
 *
 * Encrypted channels (private-encrypted-*) get a shared_secret derived from
 * ENCRYPTION_MASTER_KEY. Presence members come from the `user_id` and `user_name` form fields, which the
 * tests put in `channelAuthorization.params`. A signed-in user is `{id: user_id,
 * user_info: {name: user_name}, watchlist}`, from the `user_id`, `user_name` and
 * `watchlist` (comma-separated ids, optional) fields of `userAuthentication.params`.
 */
export async function startAuthEndpoint({ app = APP } = {}) {
  const signers = {
    '/auth': new Pusher({
      appId: app.id, key: app.key, secret: app.secret, encryptionMasterKeyBase64: ENCRYPTION_MASTER_KEY,
    }),
    '/auth/wrong-secret': new Pusher({
      appId: app.id, key: app.key, secret: WRONG_SECRET, encryptionMasterKeyBase64: ENCRYPTION_MASTER_KEY,
    }),
  };
  const requests = [];

  const server = http.createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/user-auth') {
      await signIn(signers['/auth'], req, res, requests);
      return;
    }
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
    userUrl: `http://127.0.0.1:${port}/user-auth`,
    wrongSecretUrl: `http://127.0.0.1:${port}/auth/wrong-secret`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
