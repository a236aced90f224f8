// A small site for tests of the release build in real pages: a temporary directory holding the
// built package (`demo/static/pkg`, from `./pkg-template/build`) and the test's own pages, served
// by a demo server, with a Chromium to open them in.
//
//   const site = await openPageSite({ 'a.html': html }, { backForwardCache: true });
//   site.server.url, site.browser.newPage()
//   await site.close()   // the browser, the server, the directory
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
