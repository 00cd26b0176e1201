import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ArgType } from './commands.js';
import { parseToolError } from './dev-failed.js';
import { InstrumentError, type CommandOutcome, type DataRecord, type DatasetRecord } from './instrument.js';
import { LATENCY_CATEGORIES, type Breakdown } from './timing.js';

/**
 * Reading MCP tool results back into the protocol's values and errors, in every shape a bridge
 * gives them (the README's "Against a served twin"):
 *
 * - FastMCP (the real bridge, and the served twin): a string as its raw text plus `{result}`, a
 *   list as JSON text plus `{result}`, a void command as empty content;
 * - a bridge without structured content: the text alone, read by the command's Tango output type
 *   (a DevString result is the text as it stands, even when it looks like JSON);
 * - errors: FastMCP's `Error calling tool '<name>': DevFailed[ DevError[ desc = ..., origin = ...,
 *   reason = ..., severity = ERR] ]`, or the served twin's older JSON {reason, description, origin}.
 */

/** A command's value from its tool result; `output` is its Tango output type when the command is known. */
export function resultValue(result: CallToolResult, output?: ArgType): unknown {
  const s = result.structuredContent as Record<string, unknown> | undefined;
  if (s && typeof s === 'object' && 'result' in s) return s.result;
  if (s && typeof s === 'object') return s;
  const texts = (result.content ?? []).filter((c) => c.type === 'text');
  if (texts.length === 0 || output === 'DevVoid') return null;
  const text = texts.map((c) => (c.type === 'text' ? c.text : '')).join('');
  if (output === 'DevString' || output === 'DevState') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A tool result that must be a JSON object (get_data_from_key, the twin extras). */
export function resultObject(result: CallToolResult, what: string): Record<string, unknown> {
  const s = result.structuredContent;
  if (s && typeof s === 'object') return s as Record<string, unknown>;
  const text = (result.content ?? []).find((c) => c.type === 'text');
  if (text && text.type === 'text') {
    try {
      const parsed = JSON.parse(text.text) as unknown;
      if (parsed && typeof parsed === 'object') return parsed as Record<string, unknown>;
    } catch {
      // Not JSON: fall through.
    }
  }
  throw new InstrumentError('API_BadReply', `${what} replied without a JSON object`, what);
}

/** The served twin's simulated timing in `_meta`; undefined from a bridge without it. */
export function timingOf(meta: unknown): Pick<CommandOutcome, 'start_s' | 'end_s' | 'breakdown_s'> | undefined {
  if (!meta || typeof meta !== 'object') return undefined;
  const m = meta as Record<string, unknown>;
  if (typeof m.start_s !== 'number' || typeof m.end_s !== 'number' || !m.breakdown_s || typeof m.breakdown_s !== 'object') return undefined;
  const breakdown_s: Breakdown = {};
  for (const c of LATENCY_CATEGORIES) {
    const v = (m.breakdown_s as Record<string, unknown>)[c];
    if (typeof v === 'number') breakdown_s[c] = v;
  }
  return { start_s: m.start_s, end_s: m.end_s, breakdown_s };
}

/** FastMCP's prefix of a tool's exception text. */
const FASTMCP_PREFIX = /^Error calling tool '[^']*':\s*/;

/** A tool error as InstrumentError: a DevFailed text, our JSON {reason, description}, or the bare exception text. */
export function toolError(result: CallToolResult, origin: string): InstrumentError {
  const s = result.structuredContent as Record<string, unknown> | undefined;
  if (s && typeof s.reason === 'string' && typeof s.description === 'string') {
    return new InstrumentError(s.reason, s.description, typeof s.origin === 'string' && s.origin ? s.origin : origin);
  }
  const text = (result.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => (c.type === 'text' ? c.text : ''))
    .join('\n');
  const bare = text.replace(FASTMCP_PREFIX, '');
  try {
    const parsed = JSON.parse(bare) as Record<string, unknown>;
    if (typeof parsed.reason === 'string' && typeof parsed.description === 'string') {
      return new InstrumentError(parsed.reason, parsed.description, typeof parsed.origin === 'string' && parsed.origin ? parsed.origin : origin);
    }
  } catch {
    // Not JSON: a Python exception's text (ValueError, ...).
  }
  // A DevFailed, or a Python exception's text; without the tool prefix the fallback origin is the command's.
  return parseToolError(bare, origin);
}

const DTYPES: readonly DatasetRecord['dtype'][] = ['float64', 'float32', 'uint32', 'uint16'];

/**
 * A get_data_from_key result as a DataRecord with whole arrays. `whole` fetches a dataset whose
 * preview was cut short (undefined when it cannot).
 */
export async function toDataRecord(o: Record<string, unknown>, key: string, whole: (name: string, size: number) => Promise<Float64Array | undefined>): Promise<DataRecord> {
  const body = 'datasets' in o ? o : ((o.result as Record<string, unknown> | undefined) ?? o);
  const bad = (what: string) => new InstrumentError('API_BadReply', `get_data_from_key("${key}") returned ${what}`, 'DATA.get_data_from_key');
  if (!Array.isArray(body.datasets)) throw bad('no datasets list');
  const datasets = await Promise.all(
    body.datasets.map(async (raw: unknown): Promise<DatasetRecord> => {
      const d = raw as Record<string, unknown>;
      if (typeof d.name !== 'string' || !Array.isArray(d.shape) || !Array.isArray(d.preview)) throw bad('a dataset without name, shape or preview');
      const shape = d.shape.map(Number);
      const size = shape.reduce((a, b) => a * b, 1);
      const preview = d.preview as unknown[];
      const dtype = DTYPES.includes(d.dtype as DatasetRecord['dtype']) ? (d.dtype as DatasetRecord['dtype']) : 'float64';
      const attrs = (d.attrs as Record<string, unknown>) ?? {};
      if (preview.length !== size) {
        const values = await whole(d.name, size);
        if (!values) throw bad(`dataset ${d.name} cut to ${preview.length} of ${size} values`);
        return { name: d.name, shape, dtype, attrs, values };
      }
      const values = new Float64Array(size);
      for (let i = 0; i < size; i++) {
        const v = preview[i];
        values[i] = typeof v === 'number' ? v : NaN;
      }
      return { name: d.name, shape, dtype, attrs, values };
    }),
  );
  return {
    key: typeof body.key === 'string' ? body.key : key,
    uri: typeof body.uri === 'string' ? body.uri : '',
    format: typeof body.format === 'string' ? body.format : '',
    attrs: (body.attrs as Record<string, unknown>) ?? {},
    datasets,
  };
}
