// The newsroom demo in real headless Chromium: two editors in two browser
// contexts play the whole story, against the embedded server and against a
// standalone `pusherable serve` switched on by PUSHERABLE_URL alone.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { keepScreenshotsOnFailure, launch } from './lib/chromium.mjs';
import {
  createPostgresDatabase, freePort, startNewsroom, startPusherable, tempDir,
} from './lib/newsroom.mjs';

/** A guard for each wait on the page; the story is paced by what the page shows. */
const WAIT = { timeout: 20_000 };
/** For what an editor should see within a few seconds of another editor's click. */
const SOON = { timeout: 5_000 };

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** A signed-in editor in a browser context of their own. */
async function editor(base, username) {
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1000, height: 760 } });
  const page = await context.newPage();
  await page.goto('/');
  await page.waitForURL(/\/signin/, WAIT);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill('newsroom');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Articles' }).waitFor(WAIT);
  return { context, page };
}

test('an editor signs in, is told what is wrong with a form, writes, and finds no deleted article', async () => {
  const dir = tempDir();
  const port = await freePort();
  const newsroom = await startNewsroom({ port, db: path.join(dir, 'newsroom.db') });
  const pages = {};
  try {
    await keepScreenshotsOnFailure('newsroom-basics', () => pages, async () => {
      const alice = await editor(newsroom.url, 'alice');
      pages.alice = alice.page;
      const page = alice.page;

      await page.getByRole('link', { name: 'New article' }).first().click();
      await page.getByRole('button', { name: 'Publish' }).click();
      const alert = page.getByRole('alert');
      await assert.doesNotReject(alert.getByText('Give the article a title.').waitFor(WAIT));
      await alert.getByText("Write the article's text.").waitFor(WAIT);
      assert.equal(await page.getByLabel('Title').getAttribute('aria-invalid'), 'true');

      await page.getByLabel('Title').fill('Ferry timetable changes');
      await page.getByLabel('Text').fill('Boats leave every twenty minutes.');
      await page.getByRole('button', { name: 'Publish' }).click();
      await page.getByRole('heading', { name: 'Ferry timetable changes' }).waitFor(WAIT);
      const url = page.url();

      // Delete asks first; Cancel goes back to the article untouched.
      await page.getByRole('link', { name: 'Delete' }).click();
      await page.getByRole('heading', { name: 'Delete “Ferry timetable changes”?' }).waitFor(WAIT);
      await page.getByText('This cannot be undone.').waitFor(WAIT);
      await page.getByRole('link', { name: 'Cancel' }).click();
      await page.getByRole('heading', { name: 'Ferry timetable changes' }).waitFor(WAIT);
      assert.equal(page.url(), url);

      await page.getByRole('link', { name: 'Delete' }).click();
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('heading', { name: 'Articles' }).waitFor(WAIT);
      assert.equal(await page.getByText('Ferry timetable changes').count(), 0);
      const gone = await page.goto(url);
      assert.equal(gone.status(), 404);
      await page.getByRole('heading', { name: 'Page not found' }).waitFor(WAIT);
      await alice.context.close();
    });
  } finally {
    await newsroom.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** The names the seeded editors show to others. */
const ALICE = 'Alice Martin';
const BOB = 'Bob Okafor';

/** Waits until the page's real-time connection is in `state`. */
function connection(page, state) {
  return page.waitForFunction(
    (s) => document.documentElement.getAttribute('data-pusherable-connection') === s,
    state,
    WAIT,
  );
}

/** Waits until the page is connected and its article presence channel is subscribed. */
async function live(page) {
  await connection(page, 'connected');
  await page.locator('template[data-pusherable-channel][data-pusherable-state="subscribed"]').first().waitFor({ state: 'attached', ...WAIT });
}

/** The presence bar's entries, as shown. */
async function presence(page) {
  return (await page.locator('#presence li .label').allTextContents()).map((t) => t.trim());
}

/** Waits until the presence bar shows exactly `expected`. */
async function presenceIs(page, expected) {
  await page.waitForFunction(
    (want) => JSON.stringify([...document.querySelectorAll('#presence li .label')].map((li) => li.textContent.trim())) === JSON.stringify(want),
    expected,
    WAIT,
  ).catch(async (err) => {
    throw new Error(`presence bar shows ${JSON.stringify(await presence(page))}, expected ${JSON.stringify(expected)}: ${err.message}`);
  });
}

/** The notice whose text includes `text`. */
function noticeWith(page, text) {
  return page.locator('#notices .notice', { hasText: text });
}

/** Waits until the masthead shows exactly `expected` online, or says no one else is. */
async function onlineIs(page, expected) {
  const shown = () => page.evaluate(() => [...document.querySelectorAll('#online li:not([hidden]) .name')].map((n) => n.textContent));
  await page.waitForFunction(
    (want) => {
      const names = [...document.querySelectorAll('#online li:not([hidden]) .name')].map((n) => n.textContent);
      const none = !document.getElementById('online-none').hidden;
      return JSON.stringify(names) === JSON.stringify(want) && none === (want.length === 0);
    },
    expected,
    WAIT,
  ).catch(async (err) => {
    throw new Error(`online shows ${JSON.stringify(await shown())}, expected ${JSON.stringify(expected)}: ${err.message}`);
  });
}

/**
 * Puts a context's real-time connections through the test, so that it can cut them (and
 * refuse new ones) as a network outage would, and let them through again.
 */
async function outage(context) {
  let down = false;
  const open = new Set();
  await context.routeWebSocket(/\/app\//, (ws) => {
    if (down) {
      ws.close({ code: 1011, reason: 'offline' });
      return;
    }
    const server = ws.connectToServer();
    open.add({ ws, server });
  });
  return {
    start() {
      down = true;
      for (const { ws, server } of open) {
        ws.close({ code: 1011, reason: 'offline' });
        server.close();
      }
      open.clear();
    },
    end() { down = false; },
  };
}

/**
 * The whole story with two editors. `restart` stops and starts whatever carries the events
 * (the newsroom itself when embedded, the standalone server otherwise); `newsroomStaysUp`
 * says the newsroom serves pages meanwhile, so that an editor can save while the others'
 * pages are offline.
 */
async function story(name, { base, restart, newsroomStaysUp = false }) {
  const pages = {};
  await keepScreenshotsOnFailure(name, () => pages, async () => {
    const alice = await editor(base, 'alice');
    const bob = await editor(base, 'bob');
    pages.aliceList = alice.page;
    pages.bobList = bob.page;
    await live(alice.page);
    await live(bob.page);

    // Each sees the other online in the masthead.
    await onlineIs(alice.page, [BOB]);
    await onlineIs(bob.page, [ALICE]);

    // Alice publishes; Bob's list shows it without a reload.
    const write = await alice.context.newPage();
    pages.alice = write;
    await write.goto('/articles/new');
    await write.getByLabel('Title').fill('Council approves the new cycle lanes');
    await write.getByLabel('Summary').fill('Twelve kilometres of protected lanes by spring.');
    await write.getByLabel('Text').fill('The council voted 31 to 9.\n\nWork starts in March.');
    await write.getByRole('button', { name: 'Publish' }).click();
    await write.getByRole('heading', { name: 'Council approves the new cycle lanes' }).waitFor(WAIT);
    const articlePath = new URL(write.url()).pathname;
    await bob.page.locator('#articles li', { hasText: 'Council approves the new cycle lanes' }).waitFor(WAIT);
    await noticeWith(bob.page, `${ALICE} published`).waitFor(WAIT);
    await alice.page.locator('#articles li', { hasText: 'Council approves the new cycle lanes' }).waitFor(WAIT);

    // Both on the article: each sees the other in the presence bar.
    const read = await bob.context.newPage();
    pages.bob = read;
    await read.goto(articlePath);
    await live(read);
    await live(write);
    await presenceIs(write, [BOB, `${ALICE} (you)`]);
    await presenceIs(read, [ALICE, `${BOB} (you)`]);

    // A reload leaves Bob on the bar once, not twice, and not gone.
    await read.reload();
    await live(read);
    await presenceIs(read, [ALICE, `${BOB} (you)`]);
    await presenceIs(write, [BOB, `${ALICE} (you)`]);

    // Bob opens the edit form: Alice is told, and sees him editing.
    await read.getByRole('link', { name: 'Edit' }).click();
    await read.getByRole('heading', { name: 'Edit article' }).waitFor(WAIT);
    await noticeWith(write, `${BOB} has begun editing this article`).waitFor(WAIT);
    await presenceIs(write, [`${BOB} (editing)`, `${ALICE} (you)`]);

    // Alice opens it too: now Bob is told, and both edit forms show the other editing.
    await write.getByRole('link', { name: 'Edit' }).click();
    await write.getByRole('heading', { name: 'Edit article' }).waitFor(WAIT);
    await live(write);
    await live(read);
    await noticeWith(read, `${ALICE} has begun editing this article`).waitFor(WAIT);
    await presenceIs(read, [`${ALICE} (editing)`, `${BOB} (you, editing)`]);
    await presenceIs(write, [`${BOB} (editing)`, `${ALICE} (you, editing)`]);

    // Bob types: Alice sees it.
    await read.getByLabel('Text').focus();
    await read.keyboard.press('Control+End');
    await read.keyboard.type(' Bob was here.');
    await write.getByText(`${BOB} is typing…`).waitFor(WAIT);

    // Bob saves: Alice is told what changed, with a reload button.
    await read.getByLabel('Title').fill('Council approves 12 km of new cycle lanes');
    await read.getByRole('button', { name: 'Save' }).click();
    await read.getByRole('heading', { name: 'Council approves 12 km of new cycle lanes' }).waitFor(WAIT);
    await alice.page.locator('#articles li:first-child', { hasText: 'Council approves 12 km of new cycle lanes' }).waitFor(WAIT);
    const saved = noticeWith(write, `${BOB} saved a new version`);
    await saved.waitFor(WAIT);
    assert.match(await saved.textContent(), /Changed: title, text/);
    assert.equal(await saved.getByRole('button', { name: 'Load their version' }).count(), 1);

    // Alice saves her stale form anyway: the newsroom catches it instead of overwriting.
    await write.getByLabel('Summary').fill('Twelve kilometres by spring, says the council.');
    await write.getByRole('button', { name: 'Save' }).click();
    await write.getByRole('heading', { name: `${BOB} saved a newer version while you were editing` }).waitFor(WAIT);
    assert.equal(await write.getByLabel('Summary').inputValue(), 'Twelve kilometres by spring, says the council.');

    // The server goes away and comes back: every page reconnects by itself.
    await live(write);
    await live(read);
    await restart(async () => {
      await Promise.all([write, read, alice.page].map((p) => p.waitForFunction(
        () => document.documentElement.getAttribute('data-pusherable-connection') !== 'connected', null, WAIT)));
      if (newsroomStaysUp) {
        // Bob saves from another tab while no page hears of it.
        await bob.page.goto(`${articlePath}/edit`);
        await bob.page.getByLabel('Summary').fill('Twelve kilometres, says the council, by spring.');
        await bob.page.getByRole('button', { name: 'Save' }).click();
        await bob.page.getByText('Twelve kilometres, says the council, by spring.').waitFor(WAIT);
      }
    });
    await Promise.all([write, read, alice.page].map((p) => live(p)));
    await presenceIs(write, [BOB, `${ALICE} (you, editing)`]);
    await presenceIs(read, [`${ALICE} (editing)`, `${BOB} (you)`]);
    if (newsroomStaysUp) {
      // Back online, the pages on the article find out that they missed a save.
      for (const page of [write, read]) {
        await noticeWith(page, 'You were offline, and this article changed meanwhile').waitFor(WAIT);
      }
      assert.equal(await noticeWith(write, 'You were offline').getByRole('button', { name: 'Load the new version' }).count(), 1);
      assert.equal(await noticeWith(read, 'You were offline').getByRole('button', { name: 'Reload' }).count(), 1);
    }
    await onlineIs(alice.page, [BOB]);

    // After the restart, events flow again: Bob opens the form, then deletes the article.
    await read.getByRole('link', { name: 'Edit' }).click();
    await noticeWith(write, `${BOB} has begun editing this article`).waitFor(WAIT);
    await read.goto(articlePath);
    await read.getByRole('link', { name: 'Delete' }).click();
    await read.getByRole('heading', { name: 'Delete “Council approves 12 km of new cycle lanes”?' }).waitFor(WAIT);
    await noticeWith(write, `${BOB} is about to delete this article`).waitFor(WAIT);
    assert.equal(await write.getByLabel('Text').isDisabled(), false, 'only asking locks nothing');
    await read.getByRole('button', { name: 'Delete' }).click();
    await read.getByRole('heading', { name: 'Articles' }).waitFor(WAIT);
    await noticeWith(write, `${BOB} deleted this article`).waitFor(WAIT);
    assert.equal(await write.getByLabel('Text').isDisabled(), true, 'the edit form is locked');
    assert.equal(await write.getByRole('button', { name: 'Save' }).isDisabled(), true);
    await write.getByRole('alert').filter({ hasText: 'The form is locked.' }).waitFor(WAIT);
    await alice.page.locator('#articles li', { hasText: 'Council approves' }).waitFor({ state: 'detached', ...WAIT });
    await noticeWith(alice.page, `${BOB} deleted “Council approves 12 km of new cycle lanes”`).waitFor(WAIT);
    if (!newsroomStaysUp) {
      // Nothing changed while the newsroom was down: no page says otherwise.
      assert.equal(await noticeWith(write, 'You were offline').count(), 0);
    }

    await bob.context.close();
    await onlineIs(alice.page, []);
    await alice.context.close();
  });
}

test('two editors play the whole story on the embedded server, through a restart', async () => {
  const dir = tempDir();
  const port = await freePort();
  const db = path.join(dir, 'newsroom.db');
  let newsroom = await startNewsroom({ port, db });
  try {
    await story('newsroom-embedded', {
      base: newsroom.url,
      restart: async (whileDown) => {
        await newsroom.stop();
        await whileDown();
        newsroom = await startNewsroom({ port, db });
      },
    });
  } finally {
    await newsroom.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the same story on a standalone pusherable server, switched by PUSHERABLE_URL alone, on PostgreSQL', async () => {
  const dir = tempDir();
  const database = createPostgresDatabase();
  const realtimePort = await freePort();
  let server = await startPusherable({ port: realtimePort, dir });
  const newsroom = await startNewsroom({
    port: await freePort(),
    databaseUrl: database.url,
    env: { PUSHERABLE_URL: server.pusherableUrl },
  });
  try {
    await story('newsroom-standalone', {
      base: newsroom.url,
      restart: async (whileDown) => {
        await server.stop();
        await whileDown();
        server = await startPusherable({ port: realtimePort, dir });
      },
      newsroomStaysUp: true,
    });
  } finally {
    await newsroom.stop();
    await server.stop();
    database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the delete confirmation tells the others first, and hears them while it is open', async () => {
  const dir = tempDir();
  const port = await freePort();
  const newsroom = await startNewsroom({ port, db: path.join(dir, 'newsroom.db') });
  const pages = {};
  try {
    await keepScreenshotsOnFailure('newsroom-delete', () => pages, async () => {
      const alice = await editor(newsroom.url, 'alice');
      const bob = await editor(newsroom.url, 'bob');
      pages.alice = alice.page;
      pages.bob = bob.page;

      await alice.page.goto('/articles/new');
      await alice.page.getByLabel('Title').fill('Library opens on Sundays');
      await alice.page.getByLabel('Text').fill('From ten to four, from May.');
      await alice.page.getByRole('button', { name: 'Publish' }).click();
      await alice.page.getByRole('heading', { name: 'Library opens on Sundays' }).waitFor(WAIT);
      const articlePath = new URL(alice.page.url()).pathname;

      // Alice reads the article; Bob opens its delete confirmation, and Alice is told.
      await bob.page.goto(articlePath);
      await live(alice.page);
      await live(bob.page);
      await presenceIs(alice.page, [BOB, `${ALICE} (you)`]);
      await bob.page.getByRole('link', { name: 'Delete' }).click();
      await bob.page.getByRole('heading', { name: 'Delete “Library opens on Sundays”?' }).waitFor(WAIT);
      await noticeWith(alice.page, `${BOB} is about to delete this article`).waitFor(SOON);
      await live(bob.page);
      await presenceIs(bob.page, [ALICE, `${BOB} (you)`]);

      // Alice saves a new version meanwhile: Bob's confirmation is told, and a reload asks
      // about the new title.
      await alice.page.getByRole('link', { name: 'Edit' }).click();
      await noticeWith(bob.page, `${ALICE} has begun editing this article`).waitFor(SOON);
      await alice.page.getByLabel('Title').fill('Library opens on Sundays from May');
      await alice.page.getByRole('button', { name: 'Save' }).click();
      await alice.page.getByRole('heading', { name: 'Library opens on Sundays from May' }).waitFor(WAIT);
      const saved = noticeWith(bob.page, `${ALICE} saved a new version`);
      await saved.waitFor(SOON);
      await saved.getByRole('button', { name: 'Reload' }).click();
      await bob.page.getByRole('heading', { name: 'Delete “Library opens on Sundays from May”?' }).waitFor(WAIT);

      // Alice opens the confirmation too; Bob confirms first. Alice's confirmation is locked,
      // and Bob is on the list, where the article is gone.
      await live(alice.page);
      await alice.page.getByRole('link', { name: 'Delete' }).click();
      await alice.page.getByRole('heading', { name: 'Delete “Library opens on Sundays from May”?' }).waitFor(WAIT);
      await live(alice.page);
      await live(bob.page);
      await noticeWith(bob.page, `${ALICE} is about to delete this article`).waitFor(SOON);
      await bob.page.getByRole('button', { name: 'Delete' }).click();
      await bob.page.getByRole('heading', { name: 'Articles' }).waitFor(WAIT);
      assert.equal(await bob.page.locator('#articles li', { hasText: 'Library opens' }).count(), 0);

      await noticeWith(alice.page, `${BOB} deleted this article`).waitFor(SOON);
      await alice.page.getByRole('alert').filter({ hasText: `${BOB} deleted this article.` }).waitFor(WAIT);
      assert.equal(await alice.page.getByRole('button', { name: 'Delete' }).isDisabled(), true);
      assert.equal(await alice.page.getByText('Cancel').getAttribute('href'), null);

      await alice.context.close();
      await bob.context.close();
    });
  } finally {
    await newsroom.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a page that was offline while its article changed offers to reload it, and shows who is online', async () => {
  const dir = tempDir();
  const port = await freePort();
  const newsroom = await startNewsroom({ port, db: path.join(dir, 'newsroom.db') });
  const pages = {};
  try {
    await keepScreenshotsOnFailure('newsroom-offline', () => pages, async () => {
      const alice = await editor(newsroom.url, 'alice');
      pages.aliceList = alice.page;
      await live(alice.page);
      await onlineIs(alice.page, []);
      const bob = await editor(newsroom.url, 'bob');
      pages.bob = bob.page;
      await onlineIs(alice.page, [BOB]);
      await onlineIs(bob.page, [ALICE]);

      // Alice reads the first article in a tab whose connection the test can cut.
      const network = await outage(alice.context);
      const read = await alice.context.newPage();
      pages.alice = read;
      await read.goto('/articles/1');
      await live(read);
      const title = (await read.locator('#article-title').textContent()).trim();

      network.start();
      await read.waitForFunction(() => document.documentElement.getAttribute('data-pusherable-connection') !== 'connected', null, WAIT);
      await bob.page.goto('/articles/1/edit');
      await bob.page.getByLabel('Title').fill(`${title}, updated`);
      await bob.page.getByRole('button', { name: 'Save' }).click();
      await bob.page.getByRole('heading', { name: `${title}, updated` }).waitFor(WAIT);
      assert.equal(await noticeWith(read, 'saved a new version').count(), 0, 'offline pages hear nothing');

      network.end();
      await live(read);
      const missed = noticeWith(read, 'You were offline, and this article changed meanwhile');
      await missed.waitFor(WAIT);
      await missed.getByRole('button', { name: 'Reload' }).click();
      await read.getByRole('heading', { name: `${title}, updated` }).waitFor(WAIT);

      // Offline again while Bob deletes it: back online, the page says so, and its actions go.
      await live(read);
      network.start();
      await read.waitForFunction(() => document.documentElement.getAttribute('data-pusherable-connection') !== 'connected', null, WAIT);
      await bob.page.goto('/articles/1/delete');
      await bob.page.getByRole('button', { name: 'Delete' }).click();
      await bob.page.getByRole('heading', { name: 'Articles' }).waitFor(WAIT);
      network.end();
      await noticeWith(read, 'You were offline, and this article was deleted meanwhile').waitFor(WAIT);
      await read.getByRole('alert').filter({ hasText: 'This article was deleted while you were offline.' }).waitFor(WAIT);
      assert.equal(await read.locator('#article-actions').getByText('Edit').getAttribute('href'), null);

      // Bob leaves: Alice's masthead says no one else is online.
      await bob.context.close();
      delete pages.bob;
      await onlineIs(alice.page, []);
      await alice.context.close();
    });
  } finally {
    await newsroom.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
