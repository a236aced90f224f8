// The files tether ships as pkg-template/build leaves them in target/pkg-web: the wasm and its
// JS glue (tether.js and the snippet files), for the size figures (P3).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** `{ wasm: [path], glue: [paths], snippets: count }`; throws when the build has not run. */
export function shippedFiles(repo) {
  const pkg = join(repo, 'target', 'pkg-web');
  if (!existsSync(join(pkg, 'tether_bg.wasm'))) throw new Error('target/pkg-web missing: run pkg-template/build');
  const snippets = [];
  const walk = (d) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.js')) snippets.push(p);
    }
  };
  if (existsSync(join(pkg, 'snippets'))) walk(join(pkg, 'snippets'));
  snippets.sort();
  return { wasm: [join(pkg, 'tether_bg.wasm')], glue: [join(pkg, 'tether.js'), ...snippets], snippets: snippets.length };
}
