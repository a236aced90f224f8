// Debian Chromium driven by playwright-core, as these machines allow: a fresh profile directory
// per launch, no downloads, no background networking.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic',
];

/**
 * Launches Chromium; `close()` also removes the profile directory. With `backForwardCache`,
 * Playwright's switch that turns the back-forward cache off is left out; with `exposeGc`, pages
 * have `gc()` (V8's --expose-gc).
 */
export async function launchBrowser({ backForwardCache = false, exposeGc = false } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'tether-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.TETHER_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: exposeGc ? [...ARGS, '--js-flags=--expose-gc'] : ARGS,
    ...(backForwardCache ? { ignoreDefaultArgs: ['--disable-back-forward-cache'] } : {}),
  });
  return {
    context,
    newPage: () => context.newPage(),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
