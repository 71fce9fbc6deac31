// Starts the `pusherable` binary on a free port and stops it again.
//
// The binary path comes from PUSHERABLE_BIN; without it, the debug build of the
// repository (target/debug/pusherable) is used.
//
// With PUSHERABLE_CLUSTER_NODES=N (N > 1), a "server" is N nodes of one cluster on the
// Redis server at PUSHERABLE_REDIS_URL (default redis://127.0.0.1:6379), behind a TCP
// proxy that hands each new connection to the next node in turn: every WebSocket and
// every REST call of a suite may land on any node, as behind a load balancer.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The app every suite uses, matching the signature vectors of the protocol reference. */
export const APP = Object.freeze({
  id: '3',
  key: '278d425bdf160c739803',
  secret: '7ad3773142a6692b25b8',
});

const READY_LINE = /^pusherable listening on (https?):\/\/(\S+):(\d+)/;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

export function binaryPath() {
  const fromEnv = process.env.PUSHERABLE_BIN;
  if (fromEnv) return path.resolve(fromEnv);
  return path.join(REPO_ROOT, 'target', 'debug', 'pusherable');
}

/** A TOML value for a string, number, boolean, array or plain object (inline table). */
function tomlValue(value) {
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{ ${Object.entries(value).map(([k, v]) => `${k} = ${tomlValue(v)}`).join(', ')} }`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(String(value));
}

/**
 * The server's TOML config. Each app's fields go into its `[[apps]]` section as they are
 * (`subscription_count`, `webhooks`, …; see crates/server/src/config.rs); `settings` holds
 * top-level keys such as `tls`.
 */
function configToml({ host, port, apps, settings }) {
  const lines = [`host = ${JSON.stringify(host)}`, `port = ${port}`];
  for (const [name, value] of Object.entries(settings)) lines.push(`${name} = ${tomlValue(value)}`);
  lines.push('');
  for (const app of apps) {
    lines.push('[[apps]]');
    for (const [name, value] of Object.entries({ client_events: true, ...app })) {
      lines.push(`${name} = ${tomlValue(value)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/**
 * Starts a server and resolves once it printed its listening line.
 *
 * @param {{port?: number, host?: string, apps?: object[], settings?: object}} [options]
 *   `port` 0 (the default) lets the server pick a free port; pass the port of a
 *   stopped server to restart on the same address. `apps` entries may carry any
 *   app setting besides the credentials; `settings` holds server-level ones.
 */
export async function startServer(options = {}) {
  const nodes = Number(process.env.PUSHERABLE_CLUSTER_NODES ?? '1');
  return nodes > 1 ? startCluster(nodes, options) : startNode(options);
}

/**
 * Starts `count` nodes of a new cluster and a round-robin proxy in front of them, listening
 * on `port` (0: a free one). The result looks like one server.
 */
async function startCluster(count, { port = 0, host = '127.0.0.1', apps = [APP], settings = {} } = {}) {
  const cluster = {
    redis_url: process.env.PUSHERABLE_REDIS_URL ?? 'redis://127.0.0.1:6379',
    prefix: `compat-${crypto.randomBytes(6).toString('hex')}`,
    heartbeat_ms: 200,
    node_timeout_ms: 2000,
  };
  const nodes = await Promise.all(
    Array.from({ length: count }, () => startNode({ host, apps, settings: { ...settings, cluster } })),
  );
  let next = 0;
  const sockets = new Set();
  const proxy = net.createServer((client) => {
    const node = nodes[next++ % nodes.length];
    const upstream = net.connect(node.port, node.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(port, host, resolve);
  });
  let stopped = null;
  return {
    scheme: nodes[0].scheme,
    host,
    port: proxy.address().port,
    app: apps[0],
    apps,
    nodes,
    process: nodes[0].process,
    output: () => nodes.map((n, i) => `--- node ${i}\n${n.output()}`).join('\n'),
    stop(signal = 'SIGTERM') {
      if (stopped) return stopped;
      stopped = (async () => {
        const results = await Promise.all(nodes.map((n) => n.stop(signal)));
        for (const s of sockets) s.destroy();
        await new Promise((resolve) => proxy.close(resolve));
        return results[0];
      })();
      return stopped;
    },
  };
}

async function startNode({
  port = 0, host = '127.0.0.1', apps = [APP], settings = {},
} = {}) {
  const bin = binaryPath();
  if (!fs.existsSync(bin)) {
    throw new Error(`server binary not found at ${bin}: run \`cargo build -p pusherable-cli\` or set PUSHERABLE_BIN`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pusherable-compat-'));
  const configPath = path.join(dir, 'pusherable.toml');
  fs.writeFileSync(configPath, configToml({ host, port, apps, settings }));

  const child = spawn(bin, ['serve', '--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' },
  });
  // Kept so that a failing start can say what the server printed.
  let output = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { output = (output + chunk).slice(-8000); });

  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const address = await new Promise((resolve, reject) => {
    let buffered = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server printed no listening line within ${START_TIMEOUT_MS} ms\n${output}`));
    }, START_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      output = (output + chunk).slice(-8000);
      if (ready) return;
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trimEnd();
        buffered = buffered.slice(newline + 1);
        const match = READY_LINE.exec(line);
        if (match) {
          ready = true;
          clearTimeout(timer);
          resolve({ scheme: match[1], host: match[2], port: Number(match[3]) });
          return;
        }
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    exited.then(({ code, signal }) => {
      if (ready) return;
      clearTimeout(timer);
      reject(new Error(`server exited before it was ready (code ${code}, signal ${signal})\n${output}`));
    });
  });

  let stopped = null;
  const server = {
    ...address,
    app: apps[0],
    apps,
    process: child,
    /** Everything the server printed lately, for failure messages. */
    output: () => output,
    /**
     * Stops the server: SIGTERM (a graceful stop) by default, SIGKILL to simulate a crash.
     * Resolves when the process has exited.
     */
    stop(signal = 'SIGTERM') {
      if (stopped) return stopped;
      stopped = (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill(signal);
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          const result = await exited;
          clearTimeout(timer);
          fs.rmSync(dir, { recursive: true, force: true });
          return result;
        }
        fs.rmSync(dir, { recursive: true, force: true });
        return exited;
      })();
      return stopped;
    },
  };
  return server;
}
