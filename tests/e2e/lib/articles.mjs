// Starting and stopping the web layer's example app (crates/pusherable/examples/articles.rs)
// for the browser tests.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..', '..');

/** The example binary: ARTICLES_BIN, or the debug build of `cargo build -p pusherable --example articles`. */
export const ARTICLES_BIN = process.env.ARTICLES_BIN ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(ROOT, 'target'), 'debug', 'examples', 'articles');

/** pusher-js as npm installed it, for the pages that run the official client. */
export const PUSHER_JS = path.join(ROOT, 'tests', 'e2e', 'node_modules', 'pusher-js', 'dist', 'web', 'pusher.min.js');

/** The embedded app's credentials (ARTICLES_SECRET), so that tests can ask its REST API. */
const APP = { id: '1', key: 'pusherable', secret: 'articles-e2e-secret' };

/** A guard against a process that never starts, not a timing assertion. */
const START_GUARD_MS = 60_000;

/**
 * Starts the example on 127.0.0.1:`port` (a free one when 0); resolves once it prints its
 * URL. `env` adds variables (PUSHER_JS to run pusher-js in the pages).
 */
export function startArticles({ port = 0, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(ARTICLES_BIN, [`127.0.0.1:${port}`], {
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ARTICLES_SECRET: APP.secret, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let settled = false;
    const settle = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(guard);
      fn(value);
    };
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      settle(reject, new Error(`articles printed no readiness line:\n${out}`));
    }, START_GUARD_MS);
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      out += chunk;
      const m = out.match(/articles listening on (http:\/\/\S+)/);
      if (m) {
        const url = m[1];
        settle(resolve, { url, output: () => out, stop: () => stop(child), rest: (p) => restGet(url, p) });
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      out += chunk;
      if (process.env.E2E_VERBOSE) process.stderr.write(chunk);
    });
    child.on('error', (err) => settle(reject, err));
    child.on('exit', (code, signal) => {
      settle(reject, new Error(`articles exited (${code ?? signal}) before it was ready:\n${out}`));
    });
  });
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * A signed `GET /apps/1{path}` of the embedded server's REST API, as the server libraries sign
 * it (PROTOCOL.md section 5): what the server itself knows, not what a page believes.
 */
async function restGet(base, path) {
  const fullPath = `/apps/${APP.id}${path}`;
  const params = { auth_key: APP.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: '1.0' };
  const query = Object.keys(params).sort().map((k) => `${k}=${params[k]}`).join('&');
  const signature = crypto.createHmac('sha256', APP.secret).update(`GET\n${fullPath}\n${query}`).digest('hex');
  const res = await fetch(`${base}${fullPath}?${query}&auth_signature=${signature}`);
  if (!res.ok) throw new Error(`GET ${fullPath}: ${res.status} ${await res.text()}`);
  return res.json();
}
