// A small site for tests of the release build in real pages: a temporary directory holding the
// built package (`demo/static/pkg`, from `./pkg-template/build`) and the test's own pages, served
// by a demo server, with a Chromium to open them in.
//
//   const site = pageSitePerFile({ 'a.html': html }, { backForwardCache: true });
//   // in a test: site.server.url, site.browser.newPage()
// (opened before the file's tests, closed after them; `openPageSite` opens one by hand).
import { before, after } from 'node:test';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoServer } from './demo_server.mjs';
import { launchBrowser } from './browser.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * @param {Record<string, string>} pages file name → contents
 * @param {{backForwardCache?: boolean}} [browserOptions] passed to `launchBrowser`
 */
export async function openPageSite(pages, browserOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tether-pages-'));
  let server;
  try {
    cpSync(join(repo, 'demo', 'static', 'pkg'), join(dir, 'pkg'), { recursive: true });
    for (const [name, contents] of Object.entries(pages)) writeFileSync(join(dir, name), contents);
    server = await startDemoServer({ staticDir: dir });
    const browser = await launchBrowser(browserOptions);
    return {
      server,
      browser,
      async close() {
        await browser.close();
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Opens a site before the file's tests and closes it after them (as `demoServerPerFile` does
 * for a server); returns a holder whose `server` and `browser` are set once it is open.
 */
export function pageSitePerFile(pages, browserOptions = {}) {
  const holder = { server: undefined, browser: undefined };
  let site;
  before(async () => {
    site = await openPageSite(pages, browserOptions);
    holder.server = site.server;
    holder.browser = site.browser;
  });
  after(async () => {
    await site?.close();
  });
  return holder;
}
