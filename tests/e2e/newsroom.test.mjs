// The newsroom demo in real headless Chromium: two editors in two browser
// contexts play the whole story, against the embedded server and against a
// standalone `pusherable serve` switched on by PUSHERABLE_URL alone.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { keepScreenshotsOnFailure, launch } from './lib/chromium.mjs';
import { freePort, startNewsroom, tempDir } from './lib/newsroom.mjs';

/** A guard for each wait on the page; the story is paced by what the page shows. */
const WAIT = { timeout: 20_000 };

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
  }
});
