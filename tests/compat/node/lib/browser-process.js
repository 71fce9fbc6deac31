// Drives browser.js (pusher-js in a process of its own) from a test: for what
// only a fresh node process can have, such as a CA from NODE_EXTRA_CA_CERTS.

import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import { WAIT_MS, within } from './clients.js';

const BROWSER_JS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'browser.js');

/**
 * Starts pusher-js in a child process. `settings` are browser.js's (`host`,
 * `port`, `key`, `tls`, `authEndpoint`, …); `env` is added to this process's
 * environment.
 */
export function startBrowser(settings, env = {}) {
  const child = spawn(process.execPath, [BROWSER_JS, JSON.stringify(settings)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const reports = [];
  const waiters = new Set();
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000); });
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    reports.push(JSON.parse(line));
    for (const waiter of [...waiters]) waiter();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));

  return {
    reports,
    /** Sends a command: `do('subscribe', {channel})`. */
    do(command, fields = {}) {
      child.stdin.write(`${JSON.stringify({ do: command, ...fields })}\n`);
    },
    /** Resolves with the first report matching `match`; fails on a failed command. */
    until(match, what, ms = WAIT_MS) {
      return within(new Promise((resolve, reject) => {
        const check = () => {
          const failed = reports.find((r) => r.type === 'failed');
          const found = reports.find(match);
          if (!failed && !found) return;
          waiters.delete(check);
          if (failed) reject(new Error(`pusher-js process: ${JSON.stringify(failed)}`));
          else resolve(found);
        };
        waiters.add(check);
        check();
      }), `${what} from the pusher-js process (reports: ${JSON.stringify(reports)}; stderr: ${stderr})`, ms);
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end(`${JSON.stringify({ do: 'exit' })}\n`);
        await exited;
      }
    },
  };
}
