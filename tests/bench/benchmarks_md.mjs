// Replaces one generated section of BENCHMARKS.md: the text between `<!-- NAME:begin -->` and
// `<!-- NAME:end -->`. Every benchmark script writes its table through this.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const path = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'BENCHMARKS.md');

export function writeSection(name, table) {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const doc = readFileSync(path, 'utf8');
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`BENCHMARKS.md lacks the ${name} markers`);
  writeFileSync(path, `${doc.slice(0, a + begin.length)}\n${table}\n${doc.slice(b)}`);
  console.error('BENCHMARKS.md updated');
}
