// Makes docs/newsroom.png, the README's picture: two editors' browsers side by side, with
// live notices and the presence bar showing. Run after `cargo build -p newsroom`:
//
//   node screenshot-newsroom.mjs
//
// It drives the real newsroom, as the browser tests do; nothing on the picture is staged.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch } from './lib/chromium.mjs';
import { freePort, startNewsroom, tempDir } from './lib/newsroom.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = process.argv[2] ?? path.resolve(HERE, '..', '..', 'docs', 'newsroom.png');
const WAIT = { timeout: 20_000 };
const VIEWPORT = { width: 860, height: 720 };

const dir = tempDir();
const newsroom = await startNewsroom({ port: await freePort(), db: path.join(dir, 'newsroom.db') });
const browser = await launch();
try {
  async function editor(username) {
    const context = await browser.newContext({ baseURL: newsroom.url, viewport: VIEWPORT });
    const page = await context.newPage();
    await page.goto('/signin');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill('newsroom');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Articles' }).waitFor(WAIT);
    return page;
  }
  const connected = (page) => page.waitForFunction(
    () => document.querySelector('template[data-pusherable-channel][data-pusherable-state="subscribed"]'), null, WAIT);

  const alice = await editor('alice');
  const bob = await editor('bob');
  await alice.goto('/articles/1');
  await connected(alice);

  // Bob fixes the headline, then comes back to the text.
  await bob.goto('/articles/1/edit');
  await connected(bob);
  await alice.getByText('Bob Okafor has begun editing this article').waitFor(WAIT);
  await alice.locator('#notices .notice button', { hasText: 'Dismiss' }).first().click();
  await bob.getByLabel('Title').fill('Harbour bridge reopens to traffic after two years of repairs');
  await bob.getByRole('button', { name: 'Save' }).click();
  await bob.getByRole('heading', { name: 'Harbour bridge reopens to traffic' }).waitFor(WAIT);
  await alice.getByText('Bob Okafor saved a new version').waitFor(WAIT);
  await bob.getByRole('link', { name: 'Edit' }).click();
  await connected(bob);
  await alice.getByText('Bob Okafor has begun editing this article').waitFor(WAIT);
  await bob.getByLabel('Text').focus();
  await bob.keyboard.press('Control+End');
  await bob.keyboard.type(' Cyclists get a lane of their own.');
  await alice.getByText('Bob Okafor (typing…)').waitFor(WAIT);
  await bob.getByLabel('Text').evaluate((el) => el.blur());

  const shot = async (page) => (await page.screenshot()).toString('base64');
  const [left, right] = [await shot(alice), await shot(bob)];
  const frame = await browser.newPage({ viewport: { width: VIEWPORT.width * 2 + 72, height: VIEWPORT.height + 80 } });
  await frame.setContent(`<!doctype html><html><body style="margin:0;padding:20px 24px;background:#c9d1dd;font:600 15px system-ui,sans-serif;color:#1d2330;display:flex;gap:24px">
    ${[['Alice Martin’s browser', left], ['Bob Okafor’s browser', right]].map(([who, png]) => `
      <figure style="margin:0"><figcaption style="margin-bottom:8px">${who}</figcaption>
      <img src="data:image/png;base64,${png}" width="${VIEWPORT.width}" height="${VIEWPORT.height}"
        style="display:block;border-radius:8px;box-shadow:0 4px 18px rgb(0 0 0 / .25)"></figure>`).join('')}
  </body></html>`);
  await frame.screenshot({ path: OUT });
  console.log(`wrote ${OUT}`);
} finally {
  await browser.close();
  await newsroom.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
