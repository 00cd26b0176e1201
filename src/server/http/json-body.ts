import type { FastifyInstance } from 'fastify';
import { InstrumentError } from '../../protocol/instrument.js';

/**
 * The one body parser: JSON only (anything else is 415, naming application/json), and refused
 * when JSON.parse would silently lose something: a duplicated key (JSON.parse keeps the last) or a
 * `__proto__` key (prototype poisoning, and no field of ours is called that).
 */
export const ACCEPTED_CONTENT_TYPE = 'application/json';

function malformed(description: string): InstrumentError {
  return new InstrumentError('MalformedJson', description, 'request body');
}

/**
 * Why valid JSON text is refused (a duplicated or `__proto__` key), or undefined. Walks the text
 * with an explicit stack (never recursion), so any nesting depth is safe here.
 */
export function jsonKeyProblem(text: string): string | undefined {
  const keys: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') keys.push(new Set());
    else if (c === '[') keys.push(null);
    else if (c === '}' || c === ']') keys.pop();
    else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      let j = i + 1;
      while (j < text.length && ' \t\n\r'.includes(text[j]!)) j++;
      const object = keys[keys.length - 1];
      if (text[j] !== ':' || !object) continue;
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (key === '__proto__') return 'the key "__proto__" is forbidden (it would set an object\'s prototype)';
      if (object.has(key)) return `the key "${key.slice(0, 50)}" appears twice in one object; send each key once`;
      object.add(key);
    }
  }
  return undefined;
}

export function installJsonBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(ACCEPTED_CONTENT_TYPE, { parseAs: 'string' }, (_request, text, done) => {
    const body = text as string;
    if (body.length === 0) return done(malformed('the body is empty; send a JSON object'), undefined);
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (e) {
      return done(malformed(`the body is not valid JSON: ${(e as Error).message}`), undefined);
    }
    const problem = jsonKeyProblem(body);
    if (problem) return done(malformed(problem), undefined);
    done(null, value);
  });
}
