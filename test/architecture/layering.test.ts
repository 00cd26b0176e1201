import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier a file imports or re-exports, static or dynamic. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g)) {
    specs.push((m[1] ?? m[2] ?? m[3])!);
  }
  return specs;
}

/** The src/ layer a relative import lands in, or undefined for packages. */
function layerOf(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const target = relative(join(root, 'src'), resolve(join(file, '..'), spec));
  return target.startsWith('..') ? 'outside-src' : target.split(/[\\/]/)[0];
}

/** Which layers each layer may import (architecture.md). */
const ALLOWED: Record<string, string[]> = {
  events: ['events'],
  twin: ['twin', 'events', 'protocol'],
  protocol: ['protocol'],
  policy: ['policy', 'protocol'],
};

describe('layering (architecture.md)', () => {
  for (const [layer, allowed] of Object.entries(ALLOWED)) {
    it(`src/${layer} imports only ${allowed.map((l) => `src/${l}`).join(', ')}`, () => {
      const offences: string[] = [];
      for (const file of sourceFiles(join(root, 'src', layer))) {
        for (const spec of importsOf(file)) {
          const target = layerOf(file, spec);
          if (target !== undefined && !allowed.includes(target)) offences.push(`${relative(root, file)} imports ${spec} (src/${target})`);
        }
      }
      expect(offences).toEqual([]);
    });
  }

  it('the checker itself sees an import of src/twin from src/policy', () => {
    const fake = join(root, 'src', 'policy', 'x.ts');
    expect(layerOf(fake, '../twin/specimen.js')).toBe('twin');
    expect(layerOf(fake, './gp/gp.js')).toBe('policy');
    expect(layerOf(fake, 'rxjs')).toBeUndefined();
  });
});
