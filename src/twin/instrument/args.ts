import { InstrumentError, shown } from '../../protocol/instrument.js';

/**
 * Argument checks at the twin's boundary. Each returns the value in a clean form (plain arrays,
 * numbers) or throws InstrumentError naming the argument and what was wrong, before any state
 * changes. `origin` is the refused command or attribute, e.g. "DigitalTwin.move_stage".
 */

export function invalid(origin: string, description: string): InstrumentError {
  return new InstrumentError('API_InvalidArgument', description, origin);
}

export function outOfRange(origin: string, description: string): InstrumentError {
  return new InstrumentError('OutOfRange', description, origin);
}

/** A DevVoid command: accepts no argument (undefined or null). */
export function noArgument(origin: string, args: unknown): void {
  if (args !== undefined && args !== null) throw invalid(origin, `takes no argument, got ${shown(args)}`);
}

/** A finite number. */
export function finiteNumber(origin: string, what: string, v: unknown): number {
  if (typeof v !== 'number') throw invalid(origin, `${what} must be a number, got ${shown(v)}`);
  if (!Number.isFinite(v)) throw invalid(origin, `${what} must be a finite number, got ${v}`);
  return v;
}

/** A whole number. */
export function integer(origin: string, what: string, v: unknown): number {
  const n = finiteNumber(origin, what, v);
  if (!Number.isInteger(n)) throw invalid(origin, `${what} must be a whole number, got ${n}`);
  return n;
}

/** A number in [min, max]. */
export function inRange(origin: string, what: string, v: number, min: number, max: number, unit = ''): number {
  if (v < min || v > max) {
    const u = unit ? ` ${unit}` : '';
    throw outOfRange(origin, `${what} must be within [${min}, ${max}]${u}, got ${v}${u}`);
  }
  return v;
}

/** An array (or typed array) of finite numbers; `length` exact, or a predicate on the length. */
export function numberArray(origin: string, what: string, v: unknown, length: number | { even: true; min: number }): number[] {
  const isTyped = ArrayBuffer.isView(v) && !(v instanceof DataView);
  if (!Array.isArray(v) && !isTyped) throw invalid(origin, `${what} must be an array of numbers, got ${shown(v)}`);
  const items = Array.from(v as ArrayLike<unknown>);
  if (typeof length === 'number') {
    if (items.length !== length) throw invalid(origin, `${what} must have ${length} numbers, got ${items.length}`);
  } else if (items.length < length.min || items.length % 2 !== 0) {
    throw invalid(origin, `${what} must hold pairs [x0, y0, x1, y1, ...] (an even count, at least ${length.min}), got ${items.length} numbers`);
  }
  return items.map((x, i) => finiteNumber(origin, `${what}[${i}]`, x));
}

/** A string. */
export function text(origin: string, what: string, v: unknown): string {
  if (typeof v !== 'string') throw invalid(origin, `${what} must be a string, got ${shown(v)}`);
  return v;
}

/** An array of strings. */
export function textArray(origin: string, what: string, v: unknown): string[] {
  if (!Array.isArray(v)) throw invalid(origin, `${what} must be an array of strings, got ${shown(v)}`);
  return v.map((x, i) => text(origin, `${what}[${i}]`, x));
}

/** A boolean. */
export function bool(origin: string, what: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw invalid(origin, `${what} must be true or false, got ${shown(v)}`);
  return v;
}
