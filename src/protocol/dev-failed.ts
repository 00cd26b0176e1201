import { InstrumentError } from './instrument.js';

/**
 * Tango's DevFailed as the MCP bridge carries it. FastMCP turns an exception raised by a tool
 * into `isError` with the text `Error calling tool '<name>': <exception text>`, and a Tango
 * error's text is `DevFailed[ DevError[ desc = ..., origin = ..., reason = ..., severity = ERR] ]`
 * (see the README, "Against a served twin"). The served twin writes its refusals with
 * toolErrorText; a client reads the bridge's (or the twin's) back with parseToolError.
 */

export type Severity = 'WARN' | 'ERR' | 'PANIC';

/** One entry of a DevFailed error stack. */
export interface DevError {
  reason: string;
  desc: string;
  origin: string;
  severity: Severity;
}

/** `DevFailed[ DevError[ desc = ..., origin = ..., reason = ..., severity = ERR] ]`, one DevError per entry. */
export function formatDevFailed(errors: readonly DevError[]): string {
  const entries = errors.map((e) => `DevError[ desc = ${e.desc}, origin = ${e.origin}, reason = ${e.reason}, severity = ${e.severity}]`);
  return `DevFailed[ ${entries.join(' ')} ]`;
}

/** FastMCP's text for a tool that raised: `Error calling tool '<name>': <text>`. */
export function toolErrorText(tool: string, error: { reason: string; description: string; origin: string }): string {
  return `Error calling tool '${tool}': ${formatDevFailed([{ desc: error.description, origin: error.origin, reason: error.reason, severity: 'ERR' }])}`;
}

const TOOL_PREFIX = /^\s*Error calling tool '([^']*)':\s*/;

/**
 * A DevError's fields. Separators are ", " (the bridge's one-line form) or a line break (PyTango's
 * own str(DevFailed) puts each field on its line); desc and origin may hold commas themselves
 * (Python origins do: `File "x.py", line 3, in f`), so reason and severity anchor the match.
 */
const DEV_ERROR = /DevError\[\s*desc\s*=\s*([\s\S]*?)(?:,\s*|\s*\n\s*)origin\s*=\s*([\s\S]*?)(?:,\s*|\s*\n\s*)reason\s*=\s*(\S+?)(?:,\s*|\s*\n\s*)severity\s*=\s*(WARN|ERR|PANIC)\s*\]/g;

/** The DevErrors in a DevFailed text, first (the original error) first; undefined when the text holds none. */
export function parseDevFailed(text: string): DevError[] | undefined {
  if (!/DevFailed\[/.test(text)) return undefined;
  const errors = [...text.matchAll(DEV_ERROR)].map(([, desc, origin, reason, severity]) => ({
    desc: desc!.trim(),
    origin: origin!.trim(),
    reason: reason!,
    severity: severity as Severity,
  }));
  return errors.length > 0 ? errors : undefined;
}

/**
 * A tool error text as an InstrumentError: the first DevError's reason, description and origin.
 * A text that carries no DevFailed (a Python exception the bridge passed on, a schema error) keeps
 * its message as the description with reason `fallbackReason`, origin the tool named in the text
 * (else `fallbackOrigin`).
 */
export function parseToolError(text: string, fallbackOrigin: string, fallbackReason = 'API_CommandFailed'): InstrumentError {
  const tool = TOOL_PREFIX.exec(text);
  const rest = tool ? text.slice(tool[0].length) : text;
  const first = parseDevFailed(rest)?.[0];
  if (first) return new InstrumentError(first.reason, first.desc, first.origin || fallbackOrigin);
  return new InstrumentError(fallbackReason, rest.trim() || 'the server reported an error without a message', tool?.[1] || fallbackOrigin);
}
