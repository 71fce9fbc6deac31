// Headless Debian Chromium through playwright-core: never a downloaded browser.

import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Where failure screenshots go (gitignored). */
export const ARTIFACTS = path.resolve(HERE, '..', 'artifacts');

/** The browser binary: Debian's package, or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Launches Chromium headless. Playwright gives every launch a fresh, empty
 * profile directory of its own; the flags keep Chromium from reaching for the
 * network on its own (this machine has none to offer but loopback).
 */
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Runs `body`, and if it throws, saves a screenshot of every page in
 * `pages()` under artifacts/ before rethrowing.
 */
export async function keepScreenshotsOnFailure(name, pages, body) {
  try {
    return await body();
  } catch (err) {
    await fs.mkdir(ARTIFACTS, { recursive: true });
    const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    for (const [label, page] of Object.entries(pages())) {
      if (!page || page.isClosed()) continue;
      const file = path.join(ARTIFACTS, `${slug}-${label}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`screenshot kept: ${file}`);
    }
    throw err;
  }
}
