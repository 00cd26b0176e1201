import { endianness } from 'node:os';
import { Readable } from 'node:stream';
import { InstrumentError, type DataRecord, type DatasetRecord } from '../../protocol/instrument.js';

/**
 * Wire forms shared by the MCP and REST surfaces: JSON-safe values (typed arrays become lists,
 * non-finite numbers become null, as numpy values do through the real bridge), the bridge's
 * get_data_from_key shape, and `{reason, description}` errors.
 */

/** The bridge's default preview length for get_data_from_key. */
export const DEFAULT_MAX_VALUES = 64;
/**
 * The longest JSON preview: a JSON array is built in one piece on the event loop, so a whole
 * 4096 x 4096 frame would stall every client for seconds (or exhaust the heap). Whole arrays are
 * streamed as binary by GET /api/data/:key/raw instead.
 */
export const MAX_MAX_VALUES = 65_536;

/**
 * How deeply a value may nest (objects and arrays). Instrument values are flat (numbers, short
 * lists); anything deeper is refused at the boundary, and toWire refuses it too, so no recursion
 * of ours ever meets a value deep enough to exhaust the stack.
 */
export const MAX_DEPTH = 32;

/** Thrown for a value nested deeper than MAX_DEPTH; `field` names where it was found. */
export function tooDeep(field: string, origin = field): InstrumentError {
  return new InstrumentError('API_InvalidArgument', `${field}: nested deeper than ${MAX_DEPTH} levels`, origin);
}

/** Whether `value` nests deeper than MAX_DEPTH; iterative, so any depth is safe to ask about. */
export function nestsTooDeep(value: unknown): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) continue;
    if (depth >= MAX_DEPTH) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** A value as plain JSON: typed arrays to arrays, NaN and infinities to null, undefined fields dropped, recursively (at most MAX_DEPTH deep). */
export function toWire(value: unknown, depth = 0): unknown {
  if (value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return numbersToWire(value as unknown as ArrayLike<number>, Infinity);
  if (depth >= MAX_DEPTH) throw tooDeep('value');
  if (Array.isArray(value)) return value.map((v) => toWire(v, depth + 1));
  const out: Record<string, unknown> = {};
  // As JSON does: absent rather than null.
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toWire(v, depth + 1);
  return out;
}

function numbersToWire(values: ArrayLike<number>, max: number): (number | null)[] {
  const n = Math.min(values.length, max);
  const out = new Array<number | null>(n);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    out[i] = Number.isFinite(v) ? v : null;
  }
  return out;
}

export interface WireDataset {
  name: string;
  shape: number[];
  dtype: string;
  attrs: Record<string, unknown>;
  /** The first max_values values, row-major; all of them when max_values >= the size. */
  preview: (number | null)[];
}

export interface WireDataRecord {
  key: string;
  uri: string;
  format: string;
  attrs: Record<string, unknown>;
  datasets: WireDataset[];
}

/** A DataRecord in the bridge's get_data_from_key shape, previews cut to `maxValues`. */
export function dataRecordToWire(record: DataRecord, maxValues: number): WireDataRecord {
  return {
    key: record.key,
    uri: record.uri,
    format: record.format,
    attrs: toWire(record.attrs) as Record<string, unknown>,
    datasets: record.datasets.map((d) => ({
      name: d.name,
      shape: [...d.shape],
      dtype: d.dtype,
      attrs: toWire(d.attrs) as Record<string, unknown>,
      preview: numbersToWire(d.values, maxValues),
    })),
  };
}

export interface ErrorBody {
  reason: string;
  description: string;
  origin?: string;
}

/** The virtual time a refused command cost (as success replies carry it), or undefined when it cost none. */
export function errorTiming(e: unknown): { start_s: number; end_s: number; breakdown_s: Record<string, number> } | undefined {
  if (!(e instanceof InstrumentError) || !e.timing) return undefined;
  const { start_s, end_s, breakdown_s } = e.timing;
  return { start_s, end_s, breakdown_s: { ...breakdown_s } as Record<string, number> };
}

/** Any thrown value as `{reason, description}`; unexpected errors keep their message but no stack. */
export function errorBody(e: unknown): ErrorBody {
  if (e instanceof InstrumentError) return e.toJSON();
  if (isErrorBody(e)) return { reason: e.reason, description: e.description };
  return { reason: 'InternalError', description: e instanceof Error ? e.message : String(e) };
}

export function isErrorBody(v: unknown): v is ErrorBody {
  return typeof v === 'object' && v !== null && typeof (v as ErrorBody).reason === 'string' && typeof (v as ErrorBody).description === 'string';
}

/** Bytes per chunk of a streamed array: small enough that other clients are served between chunks. */
const RAW_CHUNK_BYTES = 1 << 20;

/**
 * A dataset's values as a stream of little-endian float64 (as the twin holds them), a chunk at a
 * time with a macrotask between chunks, so a 128 MiB frame never holds the event loop; the
 * stream is pulled, so a slow reader is not buffered for (backpressure).
 */
export function rawValuesStream(d: DatasetRecord): Readable {
  const v = d.values;
  const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let at = 0; at < bytes.length; at += RAW_CHUNK_BYTES) {
      const chunk = bytes.subarray(at, at + RAW_CHUNK_BYTES);
      // Typed arrays are in the host's byte order; the wire's is little-endian.
      yield endianness() === 'LE' ? chunk : Buffer.from(chunk).swap64();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
