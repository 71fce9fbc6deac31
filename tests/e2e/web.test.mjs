// The web layer in real headless Chromium: pages of the example app
// (crates/pusherable/examples/articles.rs) see each other through pusherable.js,
// or through the official pusher-js.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';

import { keepScreenshotsOnFailure, launch } from './lib/chromium.mjs';
import { PUSHER_JS, startArticles } from './lib/articles.mjs';
import { freePort } from './lib/newsroom.mjs';

/** A guard for each wait on the page; the tests are paced by what the pages show. */
const WAIT = { timeout: 20_000 };

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Uncaught errors in any page: a test with one fails, even if what it checked went well. */
const pageErrors = [];
afterEach(() => { assert.deepEqual(pageErrors.splice(0), []); });

/** A page of `user`'s own browser context (cookies are per context), opened at `path`. */
async function pageOf(app, user, path) {
  const context = await browser.newContext({ baseURL: app.url });
  await context.addCookies([{ name: 'user', value: user, url: app.url }]);
  const page = await context.newPage();
  page.sockets = [];
  page.on('websocket', (ws) => page.sockets.push(ws.url()));
  page.on('pageerror', (err) => pageErrors.push(`[${user}] ${err.message}`));
  await page.goto(path);
  return page;
}

/** Waits until the page's object subscription is settled in `state` (subscribed or denied). */
async function settled(page, state) {
  await page.locator(`template[data-pusherable-channel^="presence-"][data-pusherable-state="${state}"]`).waitFor({ state: 'attached', ...WAIT });
}

for (const client of ['pusherable', 'pusher-js']) {
  describe(`with ${client} in the page`, () => {
    let app;
    before(async () => { app = await startArticles({ env: client === 'pusher-js' ? { PUSHER_JS } : {} }); });
    after(async () => { await app?.stop(); });

    test('opening the edit page shows a notice with the right user and event on the other page', async () => {
      const pages = {};
      await keepScreenshotsOnFailure(`${client}-edit-notice`, () => pages, async () => {
        pages.alice = await pageOf(app, 'alice', '/articles/1');
        await settled(pages.alice, 'subscribed');
        assert.equal(await pages.alice.locator('.pusherable-notice').count(), 0);
        // Both subscriptions of the page, one connection.
        await pages.alice.locator('template[data-pusherable-channel="front-page"][data-pusherable-state="subscribed"]').waitFor({ state: 'attached', ...WAIT });
        assert.equal(pages.alice.sockets.length, 1);

        pages.bob = await pageOf(app, 'bob', '/articles/1/edit');
        const notice = pages.alice.getByRole('status').locator('.pusherable-notice');
        await notice.waitFor(WAIT);
        assert.equal((await notice.locator('p').textContent()), 'Bob is editing this article.');
        assert.equal(await notice.getAttribute('data-event'), 'update');

        // The payload: django-pusherable's shape, the secret field left out.
        const events = await pages.alice.evaluate(() => window.events);
        const update = events.find((e) => e.event === 'update');
        assert.deepEqual(update.data.object, { id: 1, title: 'Story 1' });
        assert.deepEqual({ ...update.data.user }, { id: 'bob', name: 'Bob' });
        assert.equal(update.channel, 'presence-article-1');

        // The notice can be dismissed from the keyboard.
        await notice.getByRole('button', { name: 'Dismiss' }).focus();
        await pages.alice.keyboard.press('Enter');
        await notice.waitFor({ state: 'detached', ...WAIT });
      });
      for (const page of Object.values(pages)) await page.context().close();
    });

    test("a page's own pusherable_notify gets the event, with the user reading as a name", async () => {
      const pages = {};
      await keepScreenshotsOnFailure(`${client}-custom-notify`, () => pages, async () => {
        pages.alice = await pageOf(app, 'alice', '/articles/2?custom=1');
        await settled(pages.alice, 'subscribed');
        pages.bob = await pageOf(app, 'bob', '/articles/2/delete');
        await pages.alice.locator('#log li').getByText('delete by Bob').waitFor(WAIT);
        // The page handled it: no default notice.
        assert.equal(await pages.alice.locator('.pusherable-notice').count(), 0);
      });
      for (const page of Object.values(pages)) await page.context().close();
    });

    test('a user who may not see the object receives nothing', async () => {
      const pages = {};
      await keepScreenshotsOnFailure(`${client}-denied`, () => pages, async () => {
        pages.carol = await pageOf(app, 'carol', '/articles/3');
        await settled(pages.carol, 'denied');
        pages.alice = await pageOf(app, 'alice', '/articles/3');
        await settled(pages.alice, 'subscribed');

        pages.bob = await pageOf(app, 'bob', '/articles/3/edit');
        // Alice hears of it; by then it has reached every subscriber of the channel.
        await pages.alice.locator('.pusherable-notice[data-event="update"]').waitFor(WAIT);
        assert.deepEqual(await pages.carol.evaluate(() => window.events), []);
        assert.equal(await pages.carol.locator('.pusherable-notice').count(), 0);
        // Nor does carol appear among the others, nor see them.
        assert.equal(await pages.alice.locator('[data-pusherable-members] li').allTextContents().then((t) => t.includes('Carol')), false);
        assert.equal(await pages.carol.locator('[data-pusherable-members] li').count(), 0);
      });
      for (const page of Object.values(pages)) await page.context().close();
    });

    test('pages whisper to each other with client events', async () => {
      const pages = {};
      await keepScreenshotsOnFailure(`${client}-client-events`, () => pages, async () => {
        pages.alice = await pageOf(app, 'alice', '/articles/6');
        await settled(pages.alice, 'subscribed');
        pages.bob = await pageOf(app, 'bob', '/articles/6');
        await settled(pages.bob, 'subscribed');
        await pages.bob.evaluate(() => {
          window.typing = new Promise((resolve) => pusherable.on('client-typing', (data, meta) => resolve({ data, meta })));
        });
        const sent = await pages.alice.evaluate(() =>
          pusherable.trigger('presence-article-6', 'client-typing', { field: 'title' }));
        assert.equal(sent, true);
        const heard = await pages.bob.evaluate(() => window.typing);
        assert.deepEqual(heard.data, { field: 'title' });
        if (client === 'pusherable') {
          // The server names the sender; pusher-js keeps that to per-event bindings.
          assert.equal(heard.meta.user_id, 'alice');
        }
        // Not an app event: no notice, and never echoed to the sender.
        assert.equal(await pages.bob.locator('.pusherable-notice[data-event="client-typing"]').count(), 0);
        assert.equal(await pages.alice.evaluate(() => window.events.some((e) => e.event === 'client-typing')), false);
        // Only client- events, only on joined channels.
        assert.equal(await pages.alice.evaluate(() => pusherable.trigger('presence-article-6', 'typing', {})), false);
        assert.equal(await pages.alice.evaluate(() => pusherable.trigger('presence-article-99', 'client-x', {})), false);
      });
      for (const page of Object.values(pages)) await page.context().close();
    });

    test('the presence list shows who else is here and updates when a page closes', async () => {
      const pages = {};
      await keepScreenshotsOnFailure(`${client}-presence`, () => pages, async () => {
        pages.alice = await pageOf(app, 'alice', '/articles/4');
        await settled(pages.alice, 'subscribed');
        const others = pages.alice.getByRole('list', { name: 'Also here' });
        assert.equal(await others.locator('li').count(), 0);

        pages.bob = await pageOf(app, 'bob', '/articles/4');
        await others.locator('li[data-user-id="bob"]').getByText('Bob').waitFor(WAIT);
        // Bob sees Alice, and not himself.
        const bobsList = pages.bob.getByRole('list', { name: 'Also here' });
        await bobsList.locator('li[data-user-id="alice"]').waitFor(WAIT);
        assert.deepEqual(await bobsList.locator('li').allTextContents(), ['Alice']);

        // The same list through the script's API, this page's user included.
        const members = await pages.alice.evaluate(() => pusherable.members('presence-article-4'));
        assert.deepEqual(
          members.map((m) => [m.id, m.info.name, m.me]).sort(),
          [['alice', 'Alice', true], ['bob', 'Bob', false]],
        );
        await pages.alice.evaluate(() => {
          window.membersNow = new Promise((resolve) =>
            pusherable.onMembers('presence-article-4', (list) => resolve(list.map((m) => m.id))));
        });

        await pages.bob.context().close();
        delete pages.bob;
        await others.locator('li').first().waitFor({ state: 'detached', ...WAIT });
        assert.equal(await others.locator('li').count(), 0);
        assert.deepEqual(await pages.alice.evaluate(() => window.membersNow), ['alice']);
      });
      for (const page of Object.values(pages)) await page.context().close();
    });
  });
}

test('desktop notifications, once enabled, show while the tab is hidden', async () => {
  const app = await startArticles();
  const pages = {};
  try {
    await keepScreenshotsOnFailure('desktop', () => pages, async () => {
      pages.alice = await pageOf(app, 'alice', '/articles/7');
      await settled(pages.alice, 'subscribed');
      // Headless Chromium shows no desktop notifications: record what the page asks for,
      // and let it believe its tab is in the background.
      await pages.alice.evaluate(() => {
        window.shown = [];
        window.Notification = function (title, options) { window.shown.push({ title, tag: options.tag }); };
        window.Notification.requestPermission = () => Promise.resolve('granted');
        Object.defineProperty(document, 'visibilityState', { value: 'hidden' });
      });
      assert.equal(await pages.alice.evaluate(() => pusherable.enableDesktopNotifications()), true);

      pages.bob = await pageOf(app, 'bob', '/articles/7/edit');
      await pages.alice.locator('.pusherable-notice[data-event="update"]').waitFor(WAIT);
      assert.deepEqual(await pages.alice.evaluate(() => window.shown), [
        { title: 'Bob is editing this article.', tag: 'presence-article-7:bob' },
      ]);
    });
  } finally {
    for (const page of Object.values(pages)) await page.context().close();
    await app.stop();
  }
});

test('pages reconnect and subscribe again when the app restarts', async () => {
  const port = await freePort();
  let app = await startArticles({ port });
  const pages = {};
  try {
    await keepScreenshotsOnFailure('reconnect', () => pages, async () => {
      pages.alice = await pageOf(app, 'alice', '/articles/5');
      await settled(pages.alice, 'subscribed');
      const html = pages.alice.locator('html');

      await app.stop();
      await pages.alice.locator('html[data-pusherable-connection="disconnected"]').waitFor({ state: 'attached', ...WAIT });
      assert.equal(await pages.alice.locator('template[data-pusherable-state="subscribed"]').count(), 0);

      app = await startArticles({ port });
      await pages.alice.locator('html[data-pusherable-connection="connected"]').waitFor({ state: 'attached', ...WAIT });
      await settled(pages.alice, 'subscribed');
      assert.equal(await html.getAttribute('data-pusherable-connection'), 'connected');

      pages.bob = await pageOf(app, 'bob', '/articles/5/edit');
      const notice = pages.alice.locator('.pusherable-notice[data-event="update"] p');
      await notice.waitFor(WAIT);
      assert.equal(await notice.textContent(), 'Bob is editing this article.');
    });
  } finally {
    for (const page of Object.values(pages)) await page.context().close();
    await app.stop();
  }
});
