// `npm run bench [-- filter]`: runs every bench/*.bench.ts in name order. Each prints its own
// figures as ratios against a peer measured in the same run, with the target and PASS/FAIL.
import { readdirSync } from 'node:fs';

const filter = process.argv[2];
const dir = new URL('.', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches "${filter}" (have: ${readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).join(', ')})`);
  process.exit(2);
}
for (const f of files) {
  console.log(`\n== ${f.replace('.bench.ts', '')} ==`);
  const mod = (await import(new URL(f, dir).href)) as { default: () => Promise<void> };
  await mod.default();
}
