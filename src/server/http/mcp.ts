import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { CallToolRequestSchema, isInitializeRequest, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CommandSpec, DeviceName } from '../../protocol/commands.js';
import { toolErrorText } from '../../protocol/dev-failed.js';
import { InstrumentError, shown, type CommandOutcome } from '../../protocol/instrument.js';
import { AccessPolicy, bearerToken, type Access } from './auth.js';
import { clientIdHeader } from './clients.js';
import { DEFAULT_MAX_VALUES, dataRecordToWire, errorBody, errorTiming, MAX_MAX_VALUES, nestsTooDeep, tooDeep, toWire } from './serialization.js';
import { argumentName, exportedDevices, LEGACY_ARGUMENT, TOOL_CATALOGUE, type ToolEntry } from './tools.js';
import { SessionLimits, type SessionInfo, type SessionLimitOptions } from './session-limits.js';
import type { TwinService } from './twin-service.js';

/**
 * MCP over streamable HTTP at /mcp: one McpServer and transport per session (session ids tell
 * clients apart), tools from the catalogue in tools.ts, each call checked for access and shape
 * and then run through the shared TwinService (one beam for every client).
 */
export interface McpOptions {
  service: TwinService;
  policy: AccessPolicy;
  /** Session bounds, in all and per client (see session-limits.ts). */
  limits?: SessionLimitOptions;
  /** Sessions idle longer than this are closed (default 30 min). */
  idleTimeout_ms?: number;
}

interface Session extends Omit<SessionInfo, 'id'> {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  /** Ids of this session's requests not yet answered, as JSON (1 and "1" are different ids). */
  pendingIds: Set<string>;
  /** The name its last request ran under (its lease, if any, is held under this name). */
  client?: string;
}

const TOOLS = [...TOOL_CATALOGUE.values()].map((e) => e.tool);

const INSTRUCTIONS =
  'A digital twin of a STEM, served with the command surface of asyncroscopy\'s MCP bridge: one tool per Tango command, ' +
  '<TangoClass>_<command> (DigitalTwin_move_stage, EELS_acquire_eels_spectrum). Acquisitions return a data key; read it with ' +
  'get_data_from_key. Each command takes its one argument by its Python parameter name (position, detector_list, ...) or as "arg". ' +
  'Twin extras: device settings <DEVICE>_write_attribute / <DEVICE>_read_attribute, DigitalTwin_get_clock, DigitalTwin_get_scenario, ' +
  'DigitalTwin_reset, DigitalTwin_acquire_lease / release_lease. Commands from all clients run one at a time.';

export function registerMcp(app: FastifyInstance, opts: McpOptions): { close(): Promise<void>; sessionCount(): number } {
  const sessions = new Map<string, Session>();
  // Without a server token nobody can hold one: keep no sessions in reserve for token holders.
  const limits = new SessionLimits({ ...opts.limits, ...(opts.policy.tokenRequired ? {} : { reservedForToken: 0 }) });
  const sessionInfos = function* (): Iterable<SessionInfo> {
    for (const [id, s] of sessions) yield { id, owner: s.owner, authenticated: s.authenticated, lastSeen_ms: s.lastSeen_ms, inFlight: s.inFlight };
  };
  const idle_ms = opts.idleTimeout_ms ?? 30 * 60_000;

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, s] of sessions) if (now - s.lastSeen_ms > idle_ms) void closeSession(id);
  }, Math.min(idle_ms, 60_000));
  sweep.unref();

  /** Forgets a session; a lease it held ends with it, unless another live session shares its client name. */
  function forget(id: string): void {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    if (s.client !== undefined && ![...sessions.values()].some((o) => o.client === s.client)) opts.service.lease.dropHeldBy(s.client);
  }

  async function closeSession(id: string): Promise<void> {
    const s = sessions.get(id);
    if (!s) return;
    forget(id);
    await s.transport.close().catch(() => undefined);
    await s.server.close().catch(() => undefined);
  }

  function newSession(owner: string, authenticated: boolean): Session {
    const server = new McpServer({ name: 'stem-twin', version: '0.1.0' }, { capabilities: { tools: { listChanged: false } }, instructions: INSTRUCTIONS });
    const session: Session = {
      server,
      owner,
      authenticated,
      inFlight: 0,
      lastSeen_ms: Date.now(),
      pendingIds: new Set(),
      transport: new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        // Plain JSON replies: a tool call is one request and one answer, and JSON is cheaper than SSE.
        enableJsonResponse: true,
        onsessioninitialized: (id) => void sessions.set(id, session),
        onsessionclosed: (id) => forget(id),
      }),
    };
    session.transport.onclose = () => {
      const id = session.transport.sessionId;
      if (id) forget(id);
    };
    server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }));
    server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const caller = extra.authInfo?.extra as CallerInfo | undefined;
      const client = caller?.client ?? `mcp:${(extra.sessionId ?? '').slice(0, 8)}`;
      return callTool(opts.service, request.params.name, request.params.arguments, { client, access: caller?.access ?? 'read' });
    });
    return session;
  }

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const given = bearerToken(request.headers);
    const decision = opts.policy.decide(request.socket.remoteAddress, given);
    if (!decision.ok) return void reply.code(401).send({ reason: decision.reason, description: decision.description });

    const sessionId = request.headers['mcp-session-id'];
    let session: Session | undefined;
    if (typeof sessionId === 'string') {
      session = sessions.get(sessionId);
      if (!session) return void reply.code(404).send(jsonRpcError(-32001, `Session not found: no MCP session "${sessionId.slice(0, 64)}" (it ended or the server restarted); initialise a new one.`));
    } else if (request.method === 'POST' && isInitializeRequest(request.body)) {
      const owner = sessionOwner(request);
      const authenticated = opts.policy.tokenRequired && given !== undefined && decision.access === 'write';
      const admission = limits.admit(sessionInfos(), owner, authenticated);
      if (!admission.ok) return void reply.code(admission.status).send(jsonRpcError(-32000, admission.message));
      if (admission.evict) await closeSession(admission.evict);
      session = newSession(owner, authenticated);
      await session.server.connect(session.transport);
    } else {
      return void reply.code(400).send(jsonRpcError(-32000, 'Bad Request: send an initialize request first, then the mcp-session-id header it returns with every request.'));
    }
    session.lastSeen_ms = Date.now();

    // The transport answers by id: a second request with an in-flight id would run and never be
    // answered (its reply goes to the first). Refuse it before anything runs.
    const ids = requestIds(request.body);
    const duplicate = ids.find((id, i) => session.pendingIds.has(id) || ids.indexOf(id) !== i);
    if (duplicate !== undefined) {
      return void reply.code(400).send({ jsonrpc: '2.0', error: { code: -32600, message: `Invalid Request: id ${duplicate.slice(0, 100)} is already in flight in this session; use a fresh id per request.` }, id: JSON.parse(duplicate) });
    }
    for (const id of ids) session.pendingIds.add(id);
    const owner = session;
    reply.raw.once('close', () => {
      for (const id of ids) owner.pendingIds.delete(id);
    });

    const clientInfo = session.server.server.getClientVersion();
    const client =
      clientIdHeader(request.headers) ?? `mcp:${clientInfo?.name ?? 'client'}:${(session.transport.sessionId ?? 'new').slice(0, 8)}`;
    session.client = client;
    const auth: AuthInfo = { token: '', clientId: client, scopes: [decision.access], extra: { client, access: decision.access } satisfies CallerInfo };
    (request.raw as IncomingMessage & { auth?: AuthInfo }).auth = auth;
    reply.hijack();
    session.inFlight++;
    try {
      await session.transport.handleRequest(request.raw as IncomingMessage & { auth?: AuthInfo }, reply.raw, request.body);
    } catch (e) {
      // Fastify no longer answers a hijacked request: make sure the client is not left hanging.
      request.log.error(e);
      if (!reply.raw.headersSent) {
        reply.raw.writeHead(500, { 'content-type': 'application/json' });
        reply.raw.end(JSON.stringify({ reason: 'InternalError', description: (e as Error).message }));
      } else reply.raw.end();
    } finally {
      session.inFlight--;
      session.lastSeen_ms = Date.now();
    }
  }

  app.route({ method: ['GET', 'POST', 'DELETE'], url: '/mcp', handler: handle });

  return {
    sessionCount: () => sessions.size,
    async close() {
      clearInterval(sweep);
      await Promise.all([...sessions.keys()].map(closeSession));
    },
  };
}

/** Who a session belongs to, for the per-client bound: the peer address and the client's name. */
function sessionOwner(request: FastifyRequest): string {
  const params = (request.body as { params?: { clientInfo?: { name?: unknown } } } | undefined)?.params;
  const named = clientIdHeader(request.headers) ?? (typeof params?.clientInfo?.name === 'string' ? clientIdHeader({ 'x-client-id': params.clientInfo.name }) : undefined);
  return `${request.socket.remoteAddress ?? 'unknown'}|${named ?? 'client'}`;
}

interface CallerInfo {
  client: string;
  access: Access;
  [k: string]: unknown;
}

/** The ids (as JSON) of the JSON-RPC requests in a body, one message or a batch; notifications and responses have none. */
function requestIds(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  const ids: string[] = [];
  for (const m of messages) {
    if (typeof m !== 'object' || m === null || typeof (m as { method?: unknown }).method !== 'string') continue;
    const id = (m as { id?: unknown }).id;
    if (typeof id === 'string' || typeof id === 'number') ids.push(JSON.stringify(id));
  }
  return ids;
}

function jsonRpcError(code: number, message: string): object {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}

type Timing = Pick<CommandOutcome, 'start_s' | 'end_s' | 'breakdown_s'>;

function metaOf(timing?: Timing): Pick<CallToolResult, '_meta'> {
  return timing ? { _meta: { start_s: timing.start_s, end_s: timing.end_s, breakdown_s: timing.breakdown_s } } : {};
}

/**
 * A value in FastMCP's shapes: a string as its raw text, anything else as JSON text, and both as
 * structured content {result}; `undefined` (a command returning nothing, Tango DevVoid) as empty
 * content and no structured content. Values pass as the twin made them (floats already rounded
 * to float32 there): JSON prints each double exactly, so nothing here widens them again.
 */
export function toolResult(value: unknown, timing?: Timing): CallToolResult {
  if (value === undefined) return { content: [], ...metaOf(timing) };
  const result = toWire(value);
  return {
    content: [{ type: 'text', text: typeof result === 'string' ? result : JSON.stringify(result) }],
    structuredContent: { result },
    ...metaOf(timing),
  };
}

/** A dict result, as FastMCP returns one: the object itself as structured content and as JSON text. */
function objectResult(value: object): CallToolResult {
  const object = toWire(value) as Record<string, unknown>;
  return { content: [{ type: 'text', text: JSON.stringify(object) }], structuredContent: object };
}

/**
 * A refusal as FastMCP reports a tool that raised: isError, text `Error calling tool '<name>':
 * DevFailed[...]` carrying our reason, description and origin (see protocol/dev-failed.ts). Never
 * structuredContent: the SDK client checks any against the tool's output schema, errors included.
 */
function failed(tool: string, e: unknown): CallToolResult {
  const timing = errorTiming(e);
  const body = errorBody(e);
  return { isError: true, content: [{ type: 'text', text: toolErrorText(tool, { ...body, origin: body.origin || tool }) }], ...(timing ? { _meta: timing } : {}) };
}

function invalid(tool: string, description: string): InstrumentError {
  return new InstrumentError('API_InvalidArgument', description, tool);
}

const quoted = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');

/** Refuses arguments the tool's schema does not name, and missing required ones. */
function checkArgumentNames(entry: ToolEntry, args: Record<string, unknown>): void {
  const schema = entry.tool.inputSchema;
  const known = Object.keys(schema.properties ?? {});
  for (const k of Object.keys(args)) {
    if (!known.includes(k)) {
      throw invalid(entry.tool.name, `unknown argument "${k.slice(0, 50)}"; ${entry.tool.name} takes ${known.length ? quoted(known) : 'no arguments'}.`);
    }
  }
  for (const k of (schema.required as string[] | undefined) ?? []) {
    if (!(k in args)) throw invalid(entry.tool.name, `missing argument "${k}"; ${entry.tool.name} takes ${quoted(known)}.`);
  }
}

/**
 * A command tool's one argument, by the current bridge's name (the Python parameter) or the
 * older bridge's `arg`; both at once, or any other name, is refused naming what the tool takes.
 * A command whose argument is optional (the twin applies its default) may leave it out: the
 * schema still marks it required, as the real bridge does, but nothing is lost by leniency there.
 */
function commandArgument(tool: string, spec: CommandSpec, args: Record<string, unknown>): unknown {
  const parameter = argumentName(spec);
  const names = Object.keys(args);
  const takes = parameter ? `${tool} takes "${parameter}" (or "${LEGACY_ARGUMENT}", the older bridge's name for it)` : `${tool} takes no arguments`;
  const unknown = names.find((k) => k !== parameter && (parameter === undefined || k !== LEGACY_ARGUMENT));
  if (unknown !== undefined) throw invalid(tool, `unknown argument "${unknown.slice(0, 50)}"; ${takes}.`);
  if (parameter === undefined) return undefined;
  if (parameter in args && LEGACY_ARGUMENT in args) throw invalid(tool, `both "${parameter}" and "${LEGACY_ARGUMENT}" given; ${takes}, once.`);
  if (parameter in args) return args[parameter];
  if (LEGACY_ARGUMENT in args) return args[LEGACY_ARGUMENT];
  if (spec.optional) return undefined;
  throw invalid(tool, `missing argument "${parameter}"; ${takes}: ${spec.description}`);
}

/** One tool call: access, shape, then the service. Every failure is a tool error in FastMCP's DevFailed text. */
export async function callTool(service: TwinService, name: string, rawArgs: unknown, caller: { client: string; access: Access }): Promise<CallToolResult> {
  const entry = TOOL_CATALOGUE.get(name);
  const tool = name.slice(0, 100);
  try {
    if (!entry) {
      throw new InstrumentError('API_CommandNotFound', `no tool "${tool}"; list the tools (tools/list): commands are <TangoClass>_<command>, e.g. DigitalTwin_move_stage.`, tool);
    }
    if (entry.changesState && caller.access !== 'write') {
      const r = AccessPolicy.writeRefused(name);
      throw new InstrumentError(r.reason, r.description, name);
    }
    if (rawArgs !== undefined && (typeof rawArgs !== 'object' || rawArgs === null || Array.isArray(rawArgs))) throw invalid(name, `arguments must be an object, got ${shown(rawArgs)}`);
    const args = (rawArgs ?? {}) as Record<string, unknown>;
    // Before anything recursive (checks print values) meets an argument.
    for (const [k, v] of Object.entries(args)) if (nestsTooDeep(v)) throw tooDeep(k.slice(0, 50), name);
    const action = entry.action;
    if (action.kind === 'command') {
      const { spec } = action;
      const outcome = await service.execute(caller.client, { device: spec.device, command: spec.name, args: commandArgument(name, spec, args) });
      return toolResult(spec.output === 'DevVoid' ? undefined : outcome.value, outcome);
    }
    checkArgumentNames(entry, args);
    switch (action.kind) {
      case 'write-attribute': {
        const outcome = await service.writeAttribute(caller.client, { device: action.device, attribute: attributeName(name, args.attribute), value: args.value });
        return toolResult(undefined, outcome);
      }
      case 'read-attribute':
        return toolResult(await service.readAttribute(action.device as DeviceName, attributeName(name, args.attribute)));
      case 'list-devices':
        return toolResult(exportedDevices());
      case 'get-clock':
        return toolResult(await service.now_s());
      case 'get-scenario':
        return objectResult(service.scenario());
      case 'reset':
        return objectResult(await service.reset(caller.client, args.seed));
      case 'acquire-lease':
        return toolResult(service.lease.acquire(caller.client, args.idle_s));
      case 'release-lease':
        return toolResult(service.lease.release(caller.client, args.lease_id));
      case 'get-data': {
        if (typeof args.key !== 'string') throw invalid(name, `key must be a string, got ${shown(args.key)}`);
        const max = args.max_values ?? DEFAULT_MAX_VALUES;
        if (typeof max !== 'number' || !Number.isInteger(max) || max < 0 || max > MAX_MAX_VALUES) {
          throw invalid(name, `max_values must be a whole number from 0 to ${MAX_MAX_VALUES}, got ${shown(max)}; whole arrays: GET /api/data/<key>/raw (binary)`);
        }
        return objectResult(dataRecordToWire(await service.getData(args.key), max));
      }
    }
  } catch (e) {
    return failed(tool, e);
  }
}

function attributeName(tool: string, v: unknown): string {
  if (typeof v !== 'string') throw invalid(tool, `attribute must be a string naming the attribute, got ${shown(v)}`);
  return v;
}
