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

/**
 * A page of `user`'s own browser context (cookies are per context), opened at `path`; an
 * anonymous visitor's for a null user.
 */
async function pageOf(app, user, path) {
  const context = await browser.newContext({ baseURL: app.url });
  if (user) await context.addCookies([{ name: 'user', value: user, url: app.url }]);
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

/** Waits until `check` (an async function) returns true: for what only the server can tell. */
async function until(what, check) {
  const deadline = Date.now() + WAIT.timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`still not true after ${WAIT.timeout} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The channels the app's server has subscribers on, as its REST API says. */
async function occupied(app) {
  const { channels } = await app.rest('/channels');
  return Object.keys(channels).filter((name) => !name.startsWith('#')).sort();
}

/** The users on a presence channel, as the server says. */
async function usersOn(app, channel) {
  const { users } = await app.rest(`/channels/${channel}/users`);
  return users.map((u) => u.id).sort();
}

/** Waits until the page's sign-in is in `state` (signed-in, denied, error). */
async function signin(page, state) {
  await page.locator(`html[data-pusherable-signin="${state}"]`).waitFor({ state: 'attached', ...WAIT });
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

    test('signed-in pages see which of the team is online, and who leaves', async () => {
      const pages = {};
      await keepScreenshotsOnFailure(`${client}-watchlist`, () => pages, async () => {
        pages.alice = await pageOf(app, 'alice', '/articles/10');
        await signin(pages.alice, 'signed-in');
        assert.deepEqual(await pages.alice.evaluate(() => pusherable.user()), {
          id: 'alice', info: { name: 'Alice' }, watchlist: ['bob', 'carol', 'dave'],
        });
        // The server tells the whole watchlist's status at sign-in: nobody else is here.
        await pages.alice.waitForFunction(() => pusherable.watchlist().offline.includes('bob'), null, WAIT);
        const online = pages.alice.getByRole('list', { name: 'Online' });

        pages.bob = await pageOf(app, 'bob', '/articles/11');
        await online.locator('li[data-user-id="bob"]').waitFor(WAIT);
        await pages.bob.getByRole('list', { name: 'Online' }).locator('li[data-user-id="alice"]').waitFor(WAIT);
        // Carol may see no article, but she is on the team: signing in is not about objects.
        pages.carol = await pageOf(app, 'carol', '/articles/11');
        await online.locator('li[data-user-id="carol"]').waitFor(WAIT);
        assert.deepEqual(await online.locator('li').allTextContents(), ['bob', 'carol']);

        await pages.bob.context().close();
        delete pages.bob;
        await online.locator('li[data-user-id="bob"]').waitFor({ state: 'detached', ...WAIT });
        assert.deepEqual(await pages.alice.evaluate(() => pusherable.watchlist().online), ['carol']);
        assert.deepEqual(await pages.alice.evaluate(() => window.signinErrors), []);
      });
      for (const page of Object.values(pages)) await page.context().close();
    });

    test('an anonymous page is refused sign-in, and told so', async () => {
      const pages = {};
      await keepScreenshotsOnFailure(`${client}-signin-refused`, () => pages, async () => {
        pages.nobody = await pageOf(app, null, '/articles/12');
        await signin(pages.nobody, 'denied');
        const errors = await pages.nobody.evaluate(() => window.signinErrors);
        assert.equal(errors.length, 1);
        assert.equal(errors[0].status, 403);
        assert.equal(await pages.nobody.evaluate(() => pusherable.user()), null);
        const refused = await pages.nobody.evaluate(() => pusherable.signin().then(() => 'signed in', (e) => e.status));
        assert.equal(refused, 403);
        assert.equal(await pages.nobody.getByRole('list', { name: 'Online' }).locator('li').count(), 0);
      });
      for (const page of Object.values(pages)) await page.context().close();
    });

    test('a channel whose last element leaves the page is left, and joined again when one is back', async () => {
      // An app of its own: the server's channel list is then this test's alone.
      const own = await startArticles({ env: client === 'pusher-js' ? { PUSHER_JS } : {} });
      const pages = {};
      try {
        await keepScreenshotsOnFailure(`${client}-element-removal`, () => pages, async () => {
          pages.alice = await pageOf(own, 'alice', '/articles/13');
          await settled(pages.alice, 'subscribed');
          await pages.alice.locator('template[data-pusherable-channel="front-page"][data-pusherable-state="subscribed"]').waitFor({ state: 'attached', ...WAIT });
          assert.deepEqual(await occupied(own), ['front-page', 'presence-article-13']);
          pages.bob = await pageOf(own, 'bob', '/articles/13');
          const bobsList = pages.bob.getByRole('list', { name: 'Also here' });
          await bobsList.locator('li[data-user-id="alice"]').waitFor(WAIT);

          // The public channel's one element goes: the page leaves the channel.
          await pages.alice.evaluate(() => document.querySelector('template[data-pusherable-channel="front-page"]').remove());
          // Bob's page is still on it.
          assert.deepEqual(await usersOn(own, 'presence-article-13'), ['alice', 'bob']);
          await pages.bob.locator('template[data-pusherable-channel="front-page"]').evaluate((el) => el.remove());
          await until('front-page is vacated', async () => !(await occupied(own)).includes('front-page'));

          // The presence channel has two elements on Alice's page: the subscription and the
          // list. Moving one keeps the channel; removing one keeps it while the other is there.
          await pages.bob.evaluate(() => {
            window.pings = [];
            pusherable.on('client-ping', (data) => window.pings.push(data.n));
          });
          await pages.alice.evaluate(() => {
            document.body.prepend(document.querySelector('template[data-pusherable-channel^="presence-"]'));
          });
          await pages.alice.evaluate(() => {
            document.querySelector('template[data-pusherable-channel^="presence-"]').remove();
          });
          // A client event is only relayed from a subscriber, and after anything the page sent
          // before it: Bob hearing it means the server still has Alice on the channel.
          assert.equal(await pages.alice.evaluate(() => pusherable.trigger('presence-article-13', 'client-ping', { n: 1 })), true);
          await pages.bob.waitForFunction(() => window.pings.includes(1), null, WAIT);
          assert.deepEqual(await usersOn(own, 'presence-article-13'), ['alice', 'bob']);
          await pages.alice.getByRole('list', { name: 'Also here' }).evaluate((el) => el.remove());
          await bobsList.locator('li[data-user-id="alice"]').waitFor({ state: 'detached', ...WAIT });
          await until('Alice has left presence-article-13', async () =>
            JSON.stringify(await usersOn(own, 'presence-article-13')) === '["bob"]');
          assert.deepEqual(await pages.alice.evaluate(() => pusherable.members('presence-article-13')), []);

          // Put back, an element subscribes again, and events flow to it.
          await pages.alice.evaluate(() => {
            const t = document.createElement('template');
            t.setAttribute('data-pusherable-channel', 'presence-article-13');
            t.setAttribute('data-pusherable-events', '["update"]');
            document.body.appendChild(t);
          });
          await settled(pages.alice, 'subscribed');
          await bobsList.locator('li[data-user-id="alice"]').waitFor(WAIT);
          assert.deepEqual(await usersOn(own, 'presence-article-13'), ['alice', 'bob']);
          // It hears what the new element asks for, and nothing else: Dave's view comes before
          // his update, and is not handed to the page.
          await pages.alice.evaluate(() => { window.events = []; });
          pages.dave = await pageOf(own, 'dave', '/articles/13');
          await pages.dave.goto('/articles/13/edit');
          await pages.alice.locator('.pusherable-notice[data-event="update"]').waitFor(WAIT);
          assert.deepEqual(await pages.alice.evaluate(() => window.events.map((e) => e.event)), ['update']);
        });
      } finally {
        for (const page of Object.values(pages)) await page.context().close();
        await own.stop();
      }
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

for (const client of ['pusherable', 'pusher-js']) {
  test(`pages reconnect, subscribe and sign in again, and say so, when the app restarts (${client})`, async () => {
    const port = await freePort();
    const env = client === 'pusher-js' ? { PUSHER_JS } : {};
    let app = await startArticles({ port, env });
    const pages = {};
    try {
      await keepScreenshotsOnFailure(`${client}-reconnect`, () => pages, async () => {
        pages.alice = await pageOf(app, 'alice', '/articles/5');
        await settled(pages.alice, 'subscribed');
        await signin(pages.alice, 'signed-in');
        const html = pages.alice.locator('html');

        await app.stop();
        await pages.alice.waitForFunction(() => document.documentElement.getAttribute('data-pusherable-connection') !== 'connected', null, WAIT);
        assert.equal(await pages.alice.locator('template[data-pusherable-state="subscribed"]').count(), 0);
        assert.deepEqual(await pages.alice.evaluate(() => window.reconnects), []);

        app = await startArticles({ port, env });
        // pusher-js paces its own retries, up to some 15 s apart once the server was gone.
        await pages.alice.locator('html[data-pusherable-connection="connected"]').waitFor({ state: 'attached', timeout: 60_000 });
        await settled(pages.alice, 'subscribed');
        await signin(pages.alice, 'signed-in');
        assert.equal(await html.getAttribute('data-pusherable-connection'), 'connected');

        // The page is told once its subscriptions are back, with what it may have missed.
        await pages.alice.waitForFunction(() => window.reconnects.length > 0, null, WAIT);
        const [reconnect, ...more] = await pages.alice.evaluate(() => window.reconnects);
        assert.deepEqual(more, []);
        assert.deepEqual(reconnect.channels.sort(), ['front-page', 'presence-article-5']);
        assert.ok(reconnect.offline_ms > 0, `offline_ms ${reconnect.offline_ms}`);

        pages.bob = await pageOf(app, 'bob', '/articles/5/edit');
        const notice = pages.alice.locator('.pusherable-notice[data-event="update"] p');
        await notice.waitFor(WAIT);
        assert.equal(await notice.textContent(), 'Bob is editing this article.');
        await pages.alice.getByRole('list', { name: 'Online' }).locator('li[data-user-id="bob"]').waitFor(WAIT);
      });
    } finally {
      for (const page of Object.values(pages)) await page.context().close();
      await app.stop();
    }
  });
}
