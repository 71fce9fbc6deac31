// The debug console of `pusherable serve` in real headless Chromium: someone logs in, watches
// a pusher-js client (in another page) connect and subscribe, and sends it an event from the
// console's event creator.

import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';

import { keepScreenshotsOnFailure, launch } from './lib/chromium.mjs';
import { PUSHER_JS } from './lib/articles.mjs';
import { freePort, startPusherable, STANDALONE_APP, tempDir } from './lib/newsroom.mjs';

/** A guard for each wait on the page; the test is paced by what the pages show. */
const WAIT = { timeout: 20_000 };
/** How soon the console must show what happened: it is live. */
const LIVE = { timeout: 1_000 };

let browser;
let server;
before(async () => {
  browser = await launch();
  server = await startPusherable({ port: await freePort(), dir: tempDir() });
});
after(async () => {
  await server?.stop();
  await browser?.close();
});

/** Uncaught errors in any page: a test with one fails, even if what it checked went well. */
const pageErrors = [];
afterEach(() => { assert.deepEqual(pageErrors.splice(0), []); });

async function newPage(label, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`[${label}] ${err.message}`));
  await page.goto(url);
  return page;
}

/** Logs in on the console page with `secret`. */
async function logIn(page, secret) {
  const login = page.locator('#login');
  await login.getByLabel('App id').fill(STANDALONE_APP.id);
  await login.getByLabel('Secret or console token').fill(secret);
  await login.getByRole('button', { name: 'Watch' }).click();
}

test('the console shows a pusher-js client connect and subscribe, and its event creator reaches it', async () => {
  const pages = {};
  await keepScreenshotsOnFailure('console', () => pages, async () => {
    pages.console = await newPage('console', `${server.url}/console`);
    const watcher = pages.console;

    // A wrong secret is refused, and the page says so.
    await logIn(watcher, 'not-the-secret');
    await watcher.getByRole('alert').filter({ hasText: 'Wrong app id or credentials.' }).waitFor(WAIT);
    assert.equal(await watcher.locator('#console').isHidden(), true);

    await logIn(watcher, STANDALONE_APP.secret);
    await watcher.locator('#status[data-state="live"]').waitFor(WAIT);
    assert.equal(await watcher.locator('#login').isHidden(), true);
    // The secret does not stay in the form.
    assert.equal(await watcher.locator('#login').getByLabel('Secret or console token').inputValue(), '');

    // pusher-js in a page of its own.
    pages.client = await newPage('client', `${server.url}/up`);
    await pages.client.addScriptTag({ path: PUSHER_JS });
    const { hostname, port } = new URL(server.url);
    const socketId = await pages.client.evaluate(({ key, host, port }) => new Promise((resolve, reject) => {
      window.received = [];
      window.pusher = new Pusher(key, {
        cluster: 'mt1',
        wsHost: host,
        wsPort: Number(port),
        forceTLS: false,
        enabledTransports: ['ws'],
      });
      pusher.connection.bind('connected', () => resolve(pusher.connection.socket_id));
      pusher.connection.bind('failed', () => reject(new Error('pusher-js could not connect')));
    }), { key: STANDALONE_APP.key, host: hostname, port });

    const log = watcher.locator('#log tbody');
    await log.locator(`tr[data-type="connection_opened"][data-socket-id="${socketId}"]`).waitFor(LIVE);

    await pages.client.evaluate(() => new Promise((resolve) => {
      const channel = pusher.subscribe('news');
      channel.bind('pusher:subscription_succeeded', () => resolve());
      channel.bind('headline', (data) => window.received.push(data));
    }));
    const subscribed = log.locator(`tr[data-type="subscribed"][data-channel="news"][data-socket-id="${socketId}"]`);
    await subscribed.waitFor(LIVE);
    await log.locator('tr[data-type="channel_occupied"][data-channel="news"]').waitFor(LIVE);

    // The filters hide what does not match, and show it again.
    await watcher.locator('#filter-channel').fill('sports');
    await subscribed.waitFor({ state: 'hidden', ...WAIT });
    await watcher.locator('#filter-channel').fill('ne');
    await subscribed.waitFor(WAIT);
    await watcher.locator('#filter-event').fill('headline');
    await subscribed.waitFor({ state: 'hidden', ...WAIT });
    await watcher.locator('#filter-event').fill('');
    await watcher.locator('#filter-channel').fill('');

    // The event creator: data that is not JSON is caught before anything is sent.
    const creator = watcher.locator('#creator');
    const result = watcher.locator('#creator-result');
    await creator.getByLabel('Channel').fill('news');
    await creator.getByLabel('Event').fill('headline');
    await creator.getByLabel('Data (JSON)').fill('{not json');
    await creator.getByRole('button', { name: 'Send event' }).click();
    await watcher.locator('#creator-result[data-ok="false"]').filter({ hasText: 'not valid JSON' }).waitFor(WAIT);

    // The server's refusals read as the REST API's.
    await creator.getByLabel('Channel').fill('bad channel!');
    await creator.getByLabel('Data (JSON)').fill('{}');
    await creator.getByRole('button', { name: 'Send event' }).click();
    await watcher.locator('#creator-result[data-ok="false"]').filter({ hasText: /^400: Invalid channel name/ }).waitFor(WAIT);

    await creator.getByLabel('Channel').fill('news');
    await creator.getByLabel('Data (JSON)').fill('{"id": 42, "title": "<b>Hello</b>"}');
    await creator.getByRole('button', { name: 'Send event' }).click();
    await watcher.locator('#creator-result[data-ok="true"]').waitFor(WAIT);
    assert.equal(await result.textContent(), 'Sent headline to news');

    // The subscribed pusher-js client gets it, and only it.
    await pages.client.waitForFunction(() => window.received.length > 0, null, WAIT);
    assert.deepEqual(await pages.client.evaluate(() => window.received), [{ id: 42, title: '<b>Hello</b>' }]);

    // The console shows it with its payload, as text.
    const event = log.locator('tr[data-type="api_event"][data-channel="news"][data-event="headline"]');
    await event.waitFor(LIVE);
    assert.deepEqual(JSON.parse(await event.locator('pre').textContent()), { id: 42, title: '<b>Hello</b>' });
    assert.equal(await event.locator('b').count(), 0);

    // The client leaves: unsubscribed, vacated, closed.
    await pages.client.evaluate(() => pusher.disconnect());
    await log.locator(`tr[data-type="connection_closed"][data-socket-id="${socketId}"]`).waitFor(WAIT);
    await log.locator(`tr[data-type="unsubscribed"][data-socket-id="${socketId}"]`).waitFor(WAIT);
    await log.locator('tr[data-type="channel_vacated"][data-channel="news"]').waitFor(WAIT);

    // Stopping leaves the page as it started.
    await watcher.getByRole('button', { name: 'Stop watching' }).click();
    await watcher.locator('#status[data-state="closed"]').waitFor(WAIT);
    await watcher.locator('#login').waitFor(WAIT);
  });
  for (const page of Object.values(pages)) await page.context().close();
});
