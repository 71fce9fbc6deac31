// Starting and stopping the newsroom binary (and a standalone `pusherable serve`)
// for the browser tests.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..', '..');

/** The newsroom binary: NEWSROOM_BIN, or the debug build of `cargo build -p newsroom`. */
export const NEWSROOM_BIN = process.env.NEWSROOM_BIN ?? path.join(ROOT, 'target', 'debug', 'newsroom');
/** The server binary: PUSHERABLE_BIN, or the debug build of `cargo build -p pusherable-cli`. */
export const PUSHERABLE_BIN = process.env.PUSHERABLE_BIN ?? path.join(ROOT, 'target', 'debug', 'pusherable');

/** A guard against a process that never starts, not a timing assertion. */
const START_GUARD_MS = 60_000;

/** A port that was free a moment ago, so that a restart can listen on the same one. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A fresh directory for one test's database and config files. */
export function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'newsroom-e2e-'));
}

/**
 * Spawns `bin` and resolves once it prints a line matching `ready`
 * (whose first group is the URL); rejects if it exits first.
 */
function startProcess(bin, args, env, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let settled = false;
    const guard = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(bin)} printed no readiness line:\n${out}`));
    }, START_GUARD_MS);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(ready);
      if (m && !settled) {
        settled = true;
        clearTimeout(guard);
        resolve({ child, url: m[1], output: () => out });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      out += chunk;
      if (process.env.E2E_VERBOSE) process.stderr.write(chunk);
    });
    child.on('error', (err) => {
      if (!settled) { settled = true; clearTimeout(guard); reject(err); }
    });
    child.on('exit', (code, signal) => {
      if (!settled) {
        settled = true;
        clearTimeout(guard);
        reject(new Error(`${path.basename(bin)} exited (${code ?? signal}) before it was ready:\n${out}`));
      }
    });
  });
}

/** Stops a started process with SIGTERM and waits for it to exit. */
function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * Starts the newsroom on 127.0.0.1:`port` with the SQLite file `db` (or the database at
 * `databaseUrl`). `env` adds variables (PUSHERABLE_URL for a standalone server).
 */
export async function startNewsroom({ port, db, databaseUrl, env = {} }) {
  const { child, url, output } = await startProcess(
    NEWSROOM_BIN,
    ['--addr', `127.0.0.1:${port}`, '--database-url', databaseUrl ?? `sqlite://${db}`],
    env,
    /newsroom listening on (http:\/\/\S+)/,
  );
  return { url, output, stop: () => stopProcess(child) };
}

/** The app a standalone server is started with, so that it is the same after a restart. */
export const STANDALONE_APP = { id: '7', key: 'newsroom-e2e-key', secret: 'newsroom-e2e-secret' };

/** Starts `pusherable serve` on 127.0.0.1:`port` with STANDALONE_APP. */
export async function startPusherable({ port, dir }) {
  const config = path.join(dir, 'pusherable.toml');
  fs.writeFileSync(config, [
    '[[apps]]',
    `id = "${STANDALONE_APP.id}"`,
    `key = "${STANDALONE_APP.key}"`,
    `secret = "${STANDALONE_APP.secret}"`,
    '',
  ].join('\n'));
  const { child, url, output } = await startProcess(
    PUSHERABLE_BIN,
    ['serve', '--config', config, '--host', '127.0.0.1', '--port', String(port)],
    {},
    /pusherable listening on (http:\/\/\S+)/,
  );
  const { key, secret, id } = STANDALONE_APP;
  const host = url.replace(/^http:\/\//, '');
  return {
    url,
    pusherableUrl: `http://${key}:${secret}@${host}/apps/${id}`,
    output,
    stop: () => stopProcess(child),
  };
}

/** The PostgreSQL server the tests use (trust auth); NEWSROOM_TEST_POSTGRES overrides it. */
const POSTGRES = process.env.NEWSROOM_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A new, empty PostgreSQL database (through `psql`); returns its URL and a way to drop it. */
export function createPostgresDatabase() {
  const name = `newsroom_e2e_${process.pid}_${Date.now()}`;
  execFileSync('psql', [POSTGRES, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`]);
  return {
    url: `${POSTGRES.slice(0, POSTGRES.lastIndexOf('/'))}/${name}`,
    drop: () => execFileSync('psql', [POSTGRES, '-v', 'ON_ERROR_STOP=1', '-qc', `DROP DATABASE ${name} WITH (FORCE)`]),
  };
}
