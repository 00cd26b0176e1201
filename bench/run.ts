// `npm run bench [-- filter]`: runs every bench/*.bench.ts (or those whose name contains the
// filter) in name order. Each prints its own figures as ratios against a peer measured in the
// same run, with the target and PASS/FAIL. A benchmark that throws is reported and the others
// still run; the exit code is then 1.
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const filter = process.argv[2];
const dir = new URL('.', import.meta.url);
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();
const files = all.filter((f) => !filter || f.includes(filter));
if (files.length === 0) {
  console.error(`no benchmark matches "${filter}" (have: ${all.join(', ')})`);
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  const name = f.replace('.bench.ts', '');
  console.log(`\n== ${name} ==`);
  const t0 = performance.now();
  try {
    const mod = (await import(new URL(f, dir).href)) as { default?: unknown };
    if (typeof mod.default !== 'function') throw new TypeError(`${f} must export a default async function`);
    await (mod.default as () => Promise<void>)();
    console.log(`   (${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.error(`   ${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
}
if (failed > 0) process.exitCode = 1;
