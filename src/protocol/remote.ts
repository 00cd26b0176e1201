import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { DEVICES, type DeviceName } from './commands.js';
import { InstrumentError, type AttributeWrite, type CommandOutcome, type CommandRequest, type DataRecord, type DatasetRecord, type Instrument } from './instrument.js';
import { categoryOfCommand, LATENCY_CATEGORIES, type Breakdown } from './timing.js';

/**
 * The Instrument over MCP (streamable HTTP), with the official SDK client. Tools are found by
 * their command suffix, `*_<command>` for instrument commands and `<DEVICE>_<command>` for device
 * commands, so the same adapter drives a served twin (DigitalTwin_move_stage), asyncroscopy's own
 * twin and the real microscope's bridge (AutoScriptMicroscope_move_stage).
 *
 * Time: a served twin puts each command's simulated timing in the result's `_meta`
 * ({start_s, end_s, breakdown_s}) and publishes DigitalTwin_get_clock; against a bridge without
 * them, the clock is wall time since connect and a command's whole duration goes to its category.
 */
export interface RemoteOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Names this client to the server (MCP clientInfo and the x-client-id header). */
  clientName?: string;
  /** Longest a single command may take, in ms (default one hour: a paced stage move can take minutes). */
  timeout_ms?: number;
}

/** Other clients' commands during a lease, by "<Class>.<command>": those that ran (reads) and those the server refused. */
export interface ForeignCommands {
  ran: Record<string, number>;
  refused: Record<string, number>;
}

/**
 * What a campaign learns about other clients on a shared instrument: whether it held the server's
 * lease throughout ('held'), lost it to idle expiry ('lapsed'), or the server offers none ('not
 * offered': then other clients' commands go unseen), and what they sent meanwhile.
 */
export interface Interference {
  lease: 'held' | 'lapsed' | 'not offered';
  foreign: ForeignCommands;
}

/** The lease tools of a served twin (lease.ts on the server); other bridges have none. */
const ACQUIRE_LEASE = 'DigitalTwin_acquire_lease';
const RELEASE_LEASE = 'DigitalTwin_release_lease';

export interface RemoteLeasing {
  /** Takes the server's exclusive lease when it offers one: true if taken, false if not offered; throws InstrumentLeased when another client holds it. */
  acquireLease(idle_s?: number): Promise<boolean>;
  /** Gives the lease back (a no-op without one) and tells what other clients sent while it was held. */
  releaseLease(): Promise<Interference>;
}

/**
 * Asks for whole arrays (the largest acquisition is a 4096 x 4096 frame), or as much as the tool's
 * schema allows; a served twin caps JSON previews, and its longer datasets are read as binary
 * from GET /api/data/<key>/raw.
 */
const WHOLE_ARRAYS = 4096 * 4096;
const INSTRUMENT_CLASSES = ['DigitalTwin', 'AutoScriptMicroscope', 'JEOL', 'ElectronMicroscope'];
const DEVICE_PREFIXES = new Set<string>(DEVICES.filter((d) => d !== 'instrument'));

export async function connectRemoteInstrument(url: string, opts: RemoteOptions = {}): Promise<Instrument & RemoteLeasing> {
  let endpoint: URL;
  try {
    endpoint = new URL(url);
  } catch {
    throw new InstrumentError('API_InvalidArgument', `instrument URL "${url}" is not a URL; expected e.g. http://127.0.0.1:8000/mcp`, 'connect');
  }
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  if (opts.clientName !== undefined) headers['x-client-id'] = opts.clientName;
  const transport = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers }, fetch: withoutSharedSignal() });
  const client = new Client({ name: opts.clientName ?? 'stem-twin-remote', version: '0.1.0' });
  try {
    await client.connect(transport);
  } catch (e) {
    await client.close().catch(() => undefined);
    throw connectionError(e, url);
  }
  const connectedAt_ms = Date.now();
  try {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined);
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    return new RemoteInstrument(url, client, transport, tools, connectedAt_ms, opts.timeout_ms ?? 3_600_000, headers);
  } catch (e) {
    await client.close().catch(() => undefined);
    throw connectionError(e, url);
  }
}

/**
 * The SDK transport hands its one connection-wide AbortSignal to every fetch, and undici keeps a
 * listener on it per request until garbage collection: requests get slower and Node warns after
 * 1500. POSTs and DELETEs (one short JSON exchange each) go without it; close() then lets an
 * in-flight command finish instead of cutting it. The long-lived GET (server-sent events) keeps
 * the signal, so close() still ends it.
 */
function withoutSharedSignal(base: typeof fetch = fetch): typeof fetch {
  return (url, init) => {
    if (!init?.signal || (init.method ?? 'GET').toUpperCase() === 'GET') return base(url, init);
    const { signal: _shared, ...rest } = init;
    return base(url, rest);
  };
}

function connectionError(e: unknown, url: string): InstrumentError {
  if (e instanceof InstrumentError) return e;
  const code = e instanceof StreamableHTTPError ? e.code : undefined;
  if (code === 401) return new InstrumentError('Unauthorized', `the server at ${url} refused the connection: ${(e as Error).message}. Pass the server's token.`, 'connect');
  return new InstrumentError('API_ConnectionFailed', `cannot connect to the MCP server at ${url}: ${(e as Error)?.message ?? String(e)}`, 'connect');
}

class RemoteInstrument implements Instrument, RemoteLeasing {
  readonly name: string;
  private readonly byName: Map<string, Tool>;
  private readonly resolved = new Map<string, Tool | null>();
  private readonly clockTool: Tool | undefined;
  /** Whether the server reported command timing in `_meta` last time (then no clock reads are needed). */
  private metaTiming = false;
  private closed = false;
  private leaseId: string | undefined;

  constructor(
    private readonly url: string,
    private readonly client: Client,
    private readonly transport: StreamableHTTPClientTransport,
    tools: Tool[],
    private readonly connectedAt_ms: number,
    private readonly timeout_ms: number,
    private readonly headers: Record<string, string>,
  ) {
    this.name = `mcp ${url}`;
    this.byName = new Map(tools.map((t) => [t.name, t]));
    this.clockTool = tools.find((t) => t.name === 'DigitalTwin_get_clock') ?? tools.find((t) => t.name.endsWith('_get_clock'));
  }

  async execute(request: CommandRequest): Promise<CommandOutcome> {
    const device = request.device ?? 'instrument';
    const origin = `${device === 'instrument' ? 'instrument' : device}.${request.command}`;
    const tool = this.commandTool(device, request.command);
    if (!tool) {
      const pattern = device === 'instrument' ? `*_${request.command}` : `${device}_${request.command}`;
      throw new InstrumentError('API_CommandNotFound', `the server at ${this.url} publishes no tool ${pattern} for command "${request.command}" of device ${device}.`, origin);
    }
    const argument = argumentName(tool);
    const args = request.args === undefined || argument === undefined ? {} : { [argument]: plain(request.args) };
    return this.timed(tool.name, args, origin, categoryOfCommand(request.command, request.args));
  }

  async writeAttribute(write: AttributeWrite): Promise<CommandOutcome<null>> {
    const origin = `${write.device}.${write.attribute}`;
    const tool = this.byName.get(`${write.device}_write_attribute`);
    if (!tool) throw this.noAttributeTools(write.device, 'write', origin);
    const outcome = await this.timed(tool.name, { attribute: write.attribute, value: plain(write.value) }, origin, 'control_overhead');
    return { ...outcome, value: null };
  }

  async readAttribute(device: DeviceName, attribute: string): Promise<unknown> {
    const origin = `${device}.${attribute}`;
    const tool = this.byName.get(`${device}_read_attribute`);
    if (!tool) throw this.noAttributeTools(device, 'read', origin);
    return resultValue(await this.call(tool.name, { attribute }, origin));
  }

  async getData(key: string): Promise<DataRecord> {
    const origin = 'DATA.get_data_from_key';
    if (!this.byName.has('get_data_from_key')) throw new InstrumentError('API_CommandNotFound', `the server at ${this.url} publishes no get_data_from_key tool.`, origin);
    const schemaMax = (this.byName.get('get_data_from_key')!.inputSchema.properties?.max_values as { maximum?: unknown } | undefined)?.maximum;
    const max_values = typeof schemaMax === 'number' ? Math.min(schemaMax, WHOLE_ARRAYS) : WHOLE_ARRAYS;
    const result = await this.call('get_data_from_key', { key, max_values }, origin);
    return toDataRecord(resultObject(result), key, (name, size) => this.rawValues(key, name, size));
  }

  /** A dataset too long for a JSON preview, as the served twin streams it: little-endian float64. */
  private async rawValues(key: string, dataset: string, size: number): Promise<Float64Array | undefined> {
    const url = new URL(`/api/data/${encodeURIComponent(key)}/raw?dataset=${encodeURIComponent(dataset)}`, this.url);
    const res = await fetch(url, { headers: this.headers }).catch(() => undefined);
    if (!res?.ok || res.headers.get('x-dtype') !== 'float64') return undefined;
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length !== size * 8) return undefined;
    const values = new Float64Array(size);
    for (let i = 0; i < size; i++) values[i] = bytes.readDoubleLE(i * 8);
    return values;
  }

  async now_s(): Promise<number> {
    if (this.clockTool) {
      const t = resultValue(await this.call(this.clockTool.name, {}, 'instrument.get_clock'));
      if (typeof t === 'number' && Number.isFinite(t)) return t;
    }
    return (Date.now() - this.connectedAt_ms) / 1000;
  }

  async acquireLease(idle_s = 900): Promise<boolean> {
    if (!this.byName.has(ACQUIRE_LEASE)) return false;
    const lease = resultValue(await this.call(ACQUIRE_LEASE, { idle_s }, 'DigitalTwin.acquire_lease')) as { lease_id?: unknown } | null;
    this.leaseId = typeof lease?.lease_id === 'string' ? lease.lease_id : undefined;
    return true;
  }

  async releaseLease(): Promise<Interference> {
    const none = { ran: {}, refused: {} };
    if (!this.byName.has(RELEASE_LEASE) || this.leaseId === undefined) return { lease: 'not offered', foreign: none };
    const lease_id = this.leaseId;
    this.leaseId = undefined;
    try {
      const released = resultValue(await this.call(RELEASE_LEASE, { lease_id }, 'DigitalTwin.release_lease')) as { foreign?: Partial<ForeignCommands> } | null;
      return { lease: 'held', foreign: { ran: { ...released?.foreign?.ran }, refused: { ...released?.foreign?.refused } } };
    } catch (e) {
      // The lease lapsed (idle expiry) or was taken meanwhile: other clients may have run anything.
      if (e instanceof InstrumentError && e.reason === 'API_NoLease') return { lease: 'lapsed', foreign: none };
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // A campaign that failed midway must not keep the instrument until the lease's idle expiry.
    if (this.leaseId !== undefined) await this.releaseLease().catch(() => undefined);
    this.closed = true;
    await this.transport.terminateSession().catch(() => undefined);
    await this.client.close();
  }

  /**
   * Runs a command tool and takes its timing from `_meta`. A server that has not shown `_meta`
   * timing yet (or never does) is timed by reading the clock before and after, and the whole
   * duration goes to the command's category.
   */
  private async timed(tool: string, args: Record<string, unknown>, origin: string, category: (typeof LATENCY_CATEGORIES)[number]): Promise<CommandOutcome> {
    const before_s = this.metaTiming ? undefined : await this.now_s();
    const result = await this.call(tool, args, origin);
    const meta = timingOf(result._meta);
    this.metaTiming = meta !== undefined;
    if (meta) return { value: resultValue(result), ...meta };
    const start_s = before_s ?? (await this.now_s());
    const end_s = Math.max(start_s, await this.now_s());
    return { value: resultValue(result), start_s, end_s, breakdown_s: { [category]: end_s - start_s } };
  }

  private async call(name: string, args: Record<string, unknown>, origin: string): Promise<CallToolResult> {
    if (this.closed) throw new InstrumentError('API_ConnectionClosed', `this connection to ${this.url} was closed; connect again to continue.`, origin);
    let result: CallToolResult;
    try {
      result = (await this.client.callTool({ name, arguments: args }, undefined, { timeout: this.timeout_ms })) as CallToolResult;
    } catch (e) {
      throw transportError(e, origin, this.url);
    }
    if (result.isError) throw toolError(result, origin);
    return result;
  }

  private commandTool(device: DeviceName, command: string): Tool | undefined {
    const id = `${device}/${command}`;
    if (!this.resolved.has(id)) this.resolved.set(id, findCommandTool([...this.byName.values()], device, command) ?? null);
    return this.resolved.get(id) ?? undefined;
  }

  private noAttributeTools(device: DeviceName, what: 'read' | 'write', origin: string): InstrumentError {
    return new InstrumentError(
      'API_AttributeNotSupported',
      `the server at ${this.url} publishes no ${device}_${what}_attribute tool (asyncroscopy's bridge publishes commands only; device settings need a served twin or a bridge that adds attribute tools).`,
      origin,
    );
  }
}

/** The tool of a command: `<DEVICE>_<command>` for devices; `*_<command>` with an instrument class prefix otherwise. */
export function findCommandTool(tools: readonly Tool[], device: DeviceName, command: string): Tool | undefined {
  if (device !== 'instrument') return tools.find((t) => t.name === `${device}_${command}`);
  const suffix = `_${command}`;
  const candidates = tools.filter((t) => t.name.endsWith(suffix) && t.name.length > suffix.length && !DEVICE_PREFIXES.has(t.name.slice(0, -suffix.length)));
  return candidates.find((t) => INSTRUMENT_CLASSES.includes(t.name.slice(0, -suffix.length))) ?? candidates[0];
}

/** The name of a tool's single argument (the bridge names it from the Tango description, usually "arg"). */
function argumentName(tool: Tool): string | undefined {
  const names = Object.keys(tool.inputSchema.properties ?? {});
  if (names.length === 0) return tool.inputSchema.properties ? undefined : 'arg';
  return names.includes('arg') ? 'arg' : names[0];
}

/** Typed arrays as plain arrays, so JSON carries them as lists. */
function plain(v: unknown): unknown {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  return v;
}

function resultObject(result: CallToolResult): Record<string, unknown> {
  const s = result.structuredContent;
  if (s && typeof s === 'object') return s as Record<string, unknown>;
  const text = result.content.find((c) => c.type === 'text');
  if (text && text.type === 'text') {
    try {
      const parsed = JSON.parse(text.text) as unknown;
      if (parsed && typeof parsed === 'object') return parsed as Record<string, unknown>;
    } catch {
      // Not JSON: fall through.
    }
  }
  throw new InstrumentError('API_BadReply', 'the server replied without a JSON object', 'reply');
}

/** The command's value: FastMCP wraps non-object results as {result}; otherwise the text content. */
function resultValue(result: CallToolResult): unknown {
  const s = result.structuredContent as Record<string, unknown> | undefined;
  if (s && typeof s === 'object' && 'result' in s) return s.result;
  if (s && typeof s === 'object') return s;
  const text = result.content.find((c) => c.type === 'text');
  if (!text || text.type !== 'text') return null;
  try {
    return JSON.parse(text.text) as unknown;
  } catch {
    return text.text;
  }
}

function timingOf(meta: unknown): Pick<CommandOutcome, 'start_s' | 'end_s' | 'breakdown_s'> | undefined {
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

/** A tool error as InstrumentError: our {reason, description}, a Tango DevFailed text, or the bare text. */
function toolError(result: CallToolResult, origin: string): InstrumentError {
  const s = result.structuredContent as Record<string, unknown> | undefined;
  if (s && typeof s.reason === 'string' && typeof s.description === 'string') {
    return new InstrumentError(s.reason, s.description, typeof s.origin === 'string' && s.origin ? s.origin : origin);
  }
  const text = result.content
    .filter((c) => c.type === 'text')
    .map((c) => (c.type === 'text' ? c.text : ''))
    .join('\n');
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (typeof parsed.reason === 'string' && typeof parsed.description === 'string') {
      return new InstrumentError(parsed.reason, parsed.description, typeof parsed.origin === 'string' && parsed.origin ? parsed.origin : origin);
    }
  } catch {
    // Not JSON.
  }
  const reason = /reason\s*=\s*(\w+)/.exec(text)?.[1];
  const desc = /desc\s*=\s*([^\n]+)/.exec(text)?.[1];
  return new InstrumentError(reason ?? 'API_CommandFailed', (desc ?? text).trim() || 'the server reported an error without a message', origin);
}

function transportError(e: unknown, origin: string, url: string): InstrumentError {
  if (e instanceof InstrumentError) return e;
  if (e instanceof StreamableHTTPError && e.code === 401) return new InstrumentError('Unauthorized', `${url} refused the request: ${e.message}`, origin);
  if (e instanceof McpError) return new InstrumentError('API_ProtocolError', e.message, origin);
  return new InstrumentError('API_ConnectionFailed', `the request to ${url} failed: ${(e as Error)?.message ?? String(e)}`, origin);
}

const DTYPES: readonly DatasetRecord['dtype'][] = ['float64', 'float32', 'uint32', 'uint16'];

/** `whole` fetches a dataset whose preview was cut short (undefined when it cannot). */
async function toDataRecord(o: Record<string, unknown>, key: string, whole: (name: string, size: number) => Promise<Float64Array | undefined>): Promise<DataRecord> {
  const body = 'datasets' in o ? o : ((o.result as Record<string, unknown> | undefined) ?? o);
  const bad = (what: string) => new InstrumentError('API_BadReply', `get_data_from_key("${key}") returned ${what}`, 'DATA.get_data_from_key');
  if (!Array.isArray(body.datasets)) throw bad('no datasets list');
  const datasets = await Promise.all(body.datasets.map(async (raw: unknown): Promise<DatasetRecord> => {
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
  }));
  return {
    key: typeof body.key === 'string' ? body.key : key,
    uri: typeof body.uri === 'string' ? body.uri : '',
    format: typeof body.format === 'string' ? body.format : '',
    attrs: (body.attrs as Record<string, unknown>) ?? {},
    datasets,
  };
}
