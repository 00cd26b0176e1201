import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ErrorCode, McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { DEVICES, findCommand, tangoClass, type ArgType, type DeviceName } from './commands.js';
import { InstrumentError, type AttributeWrite, type CommandOutcome, type CommandRequest, type DataRecord, type Instrument } from './instrument.js';
import { resultObject, resultValue, timingOf, toDataRecord, toolError } from './mcp-results.js';
import { categoryOfCommand, type LATENCY_CATEGORIES } from './timing.js';

/**
 * The Instrument over MCP (streamable HTTP), with the official SDK client. Tools are found by
 * their command suffix, `*_<command>` for instrument commands and `<DEVICE>_<command>` for device
 * commands, so the same adapter drives a served twin (DigitalTwin_move_stage), asyncroscopy's own
 * twin and the real microscope's bridge (AutoScriptMicroscope_move_stage). The one argument goes
 * by the name the tool's input schema gives it (the current bridge: the Python parameter,
 * `position`, `detector_list`; the older: `arg`); results and errors are read in every shape the
 * bridges give (mcp-results.ts).
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
  /** Longest the MCP handshake may take, in ms (default 10 s). */
  connectTimeout_ms?: number;
  /**
   * The scenario this client expects. A served twin that publishes DigitalTwin_get_scenario must
   * serve the same specimen and instrument (digest) and seed, or the connection is refused; a
   * bridge without the tool (the real microscope) is not checked.
   */
  expect?: ServedScenario;
  /** Accept a served twin of the same digest with another seed (the caller then adopts `served.seed`). */
  takeServedSeed?: boolean;
}

/** What a served twin says it serves (the twin extra DigitalTwin_get_scenario): digest = twinDigest(scenario). */
export interface ServedScenario {
  name: string;
  seed: number;
  digest: string;
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

/** The twin extras a served twin adds (lease.ts, tools.ts on the server); other bridges have none. */
const ACQUIRE_LEASE = 'DigitalTwin_acquire_lease';
const RELEASE_LEASE = 'DigitalTwin_release_lease';
const GET_SCENARIO = 'DigitalTwin_get_scenario';

export interface RemoteLeasing {
  /** Takes the server's exclusive lease when it offers one: true if taken, false if not offered; throws InstrumentLeased when another client holds it. */
  acquireLease(idle_s?: number): Promise<boolean>;
  /** Gives the lease back (a no-op without one) and tells what other clients sent while it was held. */
  releaseLease(): Promise<Interference>;
}

export interface RemoteInstrumentHandle extends Instrument, RemoteLeasing {
  /** What the served twin serves, when it says (undefined against a bridge without DigitalTwin_get_scenario). */
  readonly served: ServedScenario | undefined;
}

/**
 * Asks for whole arrays (the largest acquisition is a 4096 x 4096 frame), or as much as the tool's
 * schema allows; a served twin caps JSON previews, and its longer datasets are read as binary
 * from GET /api/data/<key>/raw.
 */
const WHOLE_ARRAYS = 4096 * 4096;
const INSTRUMENT_CLASSES = ['DigitalTwin', 'AutoScriptMicroscope', 'JEOL', 'ElectronMicroscope'];
const SUPPORT_DEVICES = DEVICES.filter((d) => d !== 'instrument');
/** Tool prefixes of the support devices: their Tango class (DigitalTwinCorrector) and their key (CORRECTOR). */
const DEVICE_PREFIXES = new Set<string>(SUPPORT_DEVICES.flatMap((d) => [tangoClass(d), d]));

export async function connectRemoteInstrument(url: string, opts: RemoteOptions = {}): Promise<RemoteInstrumentHandle> {
  let endpoint: URL;
  try {
    endpoint = new URL(url);
  } catch {
    throw new InstrumentError('API_InvalidArgument', `instrument URL "${url}" is not a URL; expected e.g. http://127.0.0.1:8000/mcp`, 'connect');
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
    throw new InstrumentError('API_InvalidArgument', `instrument URL "${url}" is not http(s); expected e.g. http://127.0.0.1:8000/mcp`, 'connect');
  }
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  if (opts.clientName !== undefined) headers['x-client-id'] = opts.clientName;
  const transport = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers }, fetch: withoutSharedSignal() });
  const client = new Client({ name: opts.clientName ?? 'stem-twin-remote', version: '0.1.0' });
  const connectTimeout_ms = opts.connectTimeout_ms ?? 10_000;
  try {
    await client.connect(transport, { timeout: connectTimeout_ms });
  } catch (e) {
    await client.close().catch(() => undefined);
    throw connectionError(e, url, connectTimeout_ms);
  }
  const connectedAt_ms = Date.now();
  let instrument: RemoteInstrument;
  try {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: connectTimeout_ms });
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    instrument = new RemoteInstrument(url, client, transport, tools, connectedAt_ms, opts.timeout_ms ?? 3_600_000, headers);
  } catch (e) {
    await client.close().catch(() => undefined);
    throw connectionError(e, url, connectTimeout_ms);
  }
  try {
    await instrument.readServedScenario();
    if (opts.expect) checkServedScenario(url, instrument.served, opts.expect, opts.takeServedSeed === true);
  } catch (e) {
    await instrument.close().catch(() => undefined);
    throw e;
  }
  return instrument;
}

/**
 * Refuses a served twin of another specimen or instrument (digest), or of another seed unless
 * `takeSeed`: its data would belong to another specimen than the one the error metric is computed
 * against. A server without DigitalTwin_get_scenario (the real bridge) passes unchecked.
 */
export function checkServedScenario(url: string, served: ServedScenario | undefined, expected: ServedScenario, takeSeed: boolean): void {
  if (!served) return;
  const them = `"${served.name}" seed ${served.seed} (digest ${served.digest})`;
  const us = `"${expected.name}" seed ${expected.seed} (digest ${expected.digest})`;
  if (served.digest !== expected.digest) {
    throw new InstrumentError('API_ScenarioMismatch', `the twin at ${url} serves scenario ${them}, but this run is ${us}: another specimen or instrument; serve this scenario file, or run the one served.`, 'connect');
  }
  if (served.seed !== expected.seed && !takeSeed) {
    throw new InstrumentError('API_ScenarioMismatch', `the twin at ${url} serves scenario ${them}, but this run is ${us}: pass --seed ${served.seed} or --take-served to adopt the served seed.`, 'connect');
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

/** The cause of a failed fetch in words: "connection refused", "host not found", or the message. */
function failureText(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? (e as { code?: string })?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (nothing listens there; is the server running, on that port?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was reset (is it an HTTP server?)';
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'the connection timed out';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable';
  const message = cause?.message ?? (e as Error)?.message ?? String(e);
  return code ? `${message} (${code})` : message;
}

/**
 * A failed connect as one line naming the URL and what failed: refused, no MCP endpoint (404),
 * not an MCP server, timeout, or refused access (401/403). Its reason API_ConnectionFailed,
 * Unauthorized or API_NotMcp tells the CLI to exit with code 2.
 */
export function connectionError(e: unknown, url: string, timeout_ms = 10_000): InstrumentError {
  if (e instanceof InstrumentError) return e;
  const code = e instanceof StreamableHTTPError ? e.code : undefined;
  if (code === 401 || code === 403) return new InstrumentError('Unauthorized', `the server at ${url} refused access (HTTP ${code}): pass its token (--token-file or STEM_TWIN_TOKEN).`, 'connect');
  if (code === 404) return new InstrumentError('API_ConnectionFailed', `no MCP endpoint at ${url} (HTTP 404; is the path /mcp?)`, 'connect');
  if (code !== undefined && code > 0) return new InstrumentError('API_NotMcp', `${url} is not an MCP server (HTTP ${code} to an MCP initialize request)`, 'connect');
  if (code === -1) return new InstrumentError('API_NotMcp', `${url} is not an MCP server (${(e as Error).message.replace(/^Streamable HTTP error:\s*/i, '').toLowerCase()} in reply to an MCP initialize request)`, 'connect');
  if (e instanceof McpError && e.code === ErrorCode.RequestTimeout) return new InstrumentError('API_ConnectionFailed', `no answer from ${url} within ${timeout_ms / 1000} s (is it an MCP server?)`, 'connect');
  if (e instanceof McpError) return new InstrumentError('API_NotMcp', `${url} is not an MCP server as this client speaks it: ${e.message}`, 'connect');
  if (e instanceof SyntaxError || (e as Error)?.name === 'ZodError') return new InstrumentError('API_NotMcp', `${url} is not an MCP server (its reply to initialize is not JSON-RPC)`, 'connect');
  return new InstrumentError('API_ConnectionFailed', `cannot connect to ${url}: ${failureText(e)}`, 'connect');
}

/** Reasons of a failed connection (connectionError, checkServedScenario): the CLI exits with code 2 on these. */
export const CONNECTION_REASONS: readonly string[] = ['API_ConnectionFailed', 'API_NotMcp', 'Unauthorized', 'API_ScenarioMismatch'];

class RemoteInstrument implements RemoteInstrumentHandle {
  readonly name: string;
  served: ServedScenario | undefined;
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
      const pattern = device === 'instrument' ? `*_${request.command}` : `${tangoClass(device)}_${request.command}`;
      throw new InstrumentError('API_CommandNotFound', `the server at ${this.url} publishes no tool ${pattern} for command "${request.command}" of device ${device}.`, origin);
    }
    const spec = findCommand(device, request.command);
    const argument = argumentName(tool, spec?.parameter);
    const args = request.args === undefined || argument === undefined ? {} : { [argument]: plain(request.args) };
    return this.timed(tool.name, args, origin, categoryOfCommand(request.command, request.args), spec?.output);
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
    return toDataRecord(resultObject(result, origin), key, (name, size) => this.rawValues(key, name, size));
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
  private async timed(tool: string, args: Record<string, unknown>, origin: string, category: (typeof LATENCY_CATEGORIES)[number], output?: ArgType): Promise<CommandOutcome> {
    const before_s = this.metaTiming ? undefined : await this.now_s();
    const result = await this.call(tool, args, origin);
    const meta = timingOf(result._meta);
    this.metaTiming = meta !== undefined;
    if (meta) return { value: resultValue(result, output), ...meta };
    const start_s = before_s ?? (await this.now_s());
    const end_s = Math.max(start_s, await this.now_s());
    return { value: resultValue(result, output), start_s, end_s, breakdown_s: { [category]: end_s - start_s } };
  }

  /** The served twin's scenario, when it publishes DigitalTwin_get_scenario (the real bridge does not). */
  async readServedScenario(): Promise<void> {
    if (!this.byName.has(GET_SCENARIO)) return;
    const o = resultValue(await this.call(GET_SCENARIO, {}, 'DigitalTwin.get_scenario')) as Partial<ServedScenario> | null;
    if (!o || typeof o.name !== 'string' || typeof o.seed !== 'number' || typeof o.digest !== 'string') {
      throw new InstrumentError('API_BadReply', `${GET_SCENARIO} at ${this.url} replied without {name, seed, digest}`, 'DigitalTwin.get_scenario');
    }
    this.served = { name: o.name, seed: o.seed, digest: o.digest };
  }

  /**
   * tools/call without the SDK's output-schema check: bridges differ in what they declare (a void
   * command with an output schema and empty content, a string as raw text), and the reading in
   * mcp-results.ts takes them all.
   */
  private async call(name: string, args: Record<string, unknown>, origin: string): Promise<CallToolResult> {
    if (this.closed) throw new InstrumentError('API_ConnectionClosed', `this connection to ${this.url} was closed; connect again to continue.`, origin);
    let result: CallToolResult;
    try {
      result = (await this.client.request({ method: 'tools/call', params: { name, arguments: args } }, CallToolResultSchema, { timeout: this.timeout_ms })) as CallToolResult;
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

/**
 * The tool of a command: `<TangoClass>_<command>` for a support device (EELS_..., DigitalTwinCorrector_...,
 * or by its key, CORRECTOR_...); `*_<command>` with an instrument class prefix otherwise.
 */
export function findCommandTool(tools: readonly Tool[], device: DeviceName, command: string): Tool | undefined {
  if (device !== 'instrument') {
    for (const prefix of new Set([tangoClass(device), device])) {
      const tool = tools.find((t) => t.name === `${prefix}_${command}`);
      if (tool) return tool;
    }
    return undefined;
  }
  const suffix = `_${command}`;
  const candidates = tools.filter((t) => t.name.endsWith(suffix) && t.name.length > suffix.length && !DEVICE_PREFIXES.has(t.name.slice(0, -suffix.length)));
  return candidates.find((t) => INSTRUMENT_CLASSES.includes(t.name.slice(0, -suffix.length))) ?? candidates[0];
}

/**
 * The name of a tool's one argument, from its input schema: the command's Python parameter when
 * the schema has it (the current bridge), `arg` when it has that (the older bridge), else its one
 * required or only property; undefined for a tool without arguments (a void command).
 */
function argumentName(tool: Tool, parameter: string | undefined): string | undefined {
  const properties = tool.inputSchema.properties;
  if (!properties) return 'arg';
  const names = Object.keys(properties);
  if (names.length === 0) return undefined;
  if (parameter !== undefined && names.includes(parameter)) return parameter;
  if (names.includes('arg')) return 'arg';
  const required = (tool.inputSchema.required ?? []).filter((n) => names.includes(n));
  return required.length === 1 ? required[0] : names[0];
}

/** Typed arrays as plain arrays, so JSON carries them as lists. */
function plain(v: unknown): unknown {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  return v;
}

function transportError(e: unknown, origin: string, url: string): InstrumentError {
  if (e instanceof InstrumentError) return e;
  if (e instanceof StreamableHTTPError && e.code === 401) return new InstrumentError('Unauthorized', `${url} refused the request: ${e.message}`, origin);
  if (e instanceof McpError && e.code === ErrorCode.RequestTimeout) return new InstrumentError('API_Timeout', `no answer from ${url} to ${origin} within the command timeout`, origin);
  if (e instanceof McpError) return new InstrumentError('API_ProtocolError', e.message, origin);
  return new InstrumentError('API_ConnectionFailed', `the request to ${url} failed: ${failureText(e)}`, origin);
}
