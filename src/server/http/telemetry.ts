import type { IncomingHttpHeaders, Server as HttpServer } from 'node:http';
import type { Subscription } from 'rxjs';
import { Server as SocketServer, type Socket } from 'socket.io';
import { categoryOfCommand } from '../../protocol/timing.js';
import type { InstrumentTelemetry } from '../../twin/index.js';
import type { AccessPolicy, Access } from './auth.js';
import { bearerToken } from './auth.js';
import { clientIdHeader } from './clients.js';
import { errorBody, nestsTooDeep, tooDeep, toWire } from './serialization.js';
import type { TwinService } from './twin-service.js';

/**
 * Live telemetry over socket.io, on the same HTTP server (path /socket.io).
 *
 * Server -> client events:
 *   'hello'      on connect: { state, clock_s, holder, queued, lease, speed }, the snapshot that later
 *                'state' patches apply to; again to every socket after a reset, with
 *                reset: { name, seed, digest } (the new twin's clock starts at 0).
 *   'telemetry'  every record of the twin, in virtual-time order:
 *                { type: 'command-start', seq, t_s, device, command, args, client }
 *                { type: 'command-end', seq, t_s, start_s, end_s, breakdown_s, ok, error?, device, command, client, category }
 *                { type: 'state', t_s, patches }   (immer patches against the previous snapshot)
 *                { type: 'acquisition', t_s, key, kind }
 *                The twin runs paced by the server's speed, so these arrive in the instrument's rhythm.
 *   'holder'     { holder: { client, command, since_ms } | null, queued } whenever the beam changes hands.
 *   'campaign'   { from, received_ms, event }: a campaign event relayed from a publishing client.
 *
 * Client -> server events:
 *   'publish'    (event: { type: string, ... }, ack?) relays a policy's decisions and metrics (e.g. the
 *                campaign runner's events when `stem-twin run --instrument URL` drives this server) to
 *                every other subscriber as 'campaign'. Needs write access (the bearer token, in
 *                `auth: { token }` or the Authorization header, when the server has one); events are
 *                plain objects with a string `type`, at most 64 KiB as JSON. ack({ ok: true }) or
 *                ack({ ok: false, reason, description }).
 *
 * Connecting needs read access: open on loopback, the token from elsewhere (and from everywhere
 * when the server listens off loopback); a handshake from a foreign web page (Origin) or to a
 * rebound Host is refused before that (see addressedHere in server.ts).
 */
export const MAX_PUBLISHED_BYTES = 64 * 1024;

export interface TelemetryOptions {
  service: TwinService;
  policy: AccessPolicy;
  speed: number | 'max';
  /** Why a handshake is refused (wrong Host: DNS rebinding; foreign Origin: a web page), or undefined; default: all allowed. */
  requestAllowed?: (headers: IncomingHttpHeaders) => { reason: string; description: string } | undefined;
}

interface SocketData {
  access: Access;
  client: string;
}

interface StartInfo {
  device: string;
  command: string;
  args: unknown;
  client?: string;
}

/**
 * Adds to each command-end what a dashboard needs without keeping its own table (device,
 * command, client, latency category). Every record must pass through; `render` false skips the
 * wire conversion when nobody listens.
 */
export function telemetryEnricher(): (record: InstrumentTelemetry, render?: boolean) => Record<string, unknown> | undefined {
  const running = new Map<number, StartInfo>();
  return (record, render = true) => {
    if (record.type === 'command-start') {
      running.set(record.seq, { device: record.device, command: record.command, args: record.args, client: record.client });
    } else if (record.type === 'command-end') {
      const start = running.get(record.seq);
      running.delete(record.seq);
      if (!render) return undefined;
      const extra = start
        ? { device: start.device, command: start.command, client: start.client ?? null, category: categoryOfCommand(start.command, start.args) }
        : {};
      return toWire({ ...record, ...extra }) as Record<string, unknown>;
    }
    return render ? (toWire(record) as Record<string, unknown>) : undefined;
  };
}

export function attachTelemetry(httpServer: HttpServer, opts: TelemetryOptions): { io: SocketServer; close(): Promise<void> } {
  const requestAllowed = opts.requestAllowed ?? (() => undefined);
  const io = new SocketServer(httpServer, {
    path: '/socket.io',
    serveClient: false,
    maxHttpBufferSize: 2 * MAX_PUBLISHED_BYTES,
    // Runs for every engine.io request, polling and WebSocket upgrade alike.
    allowRequest: (req, callback) => {
      const refusal = requestAllowed(req.headers);
      callback(refusal ? `${refusal.reason}: ${refusal.description}` : null, !refusal);
    },
  });
  const { service, policy } = opts;

  io.use((socket, next) => {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const given = typeof auth?.token === 'string' ? auth.token : bearerToken(socket.handshake.headers);
    const decision = policy.decide(socket.handshake.address, given);
    if (!decision.ok) {
      const err = new Error(`${decision.reason}: ${decision.description}`) as Error & { data?: unknown };
      err.data = { reason: decision.reason, description: decision.description };
      return next(err);
    }
    const named = typeof auth?.client === 'string' ? clientIdHeader({ 'x-client-id': auth.client }) : clientIdHeader(socket.handshake.headers);
    (socket.data as SocketData) = { access: decision.access, client: named ?? `socket@${socket.handshake.address}` };
    next();
  });

  io.on('connection', async (socket: Socket) => {
    socket.on('publish', (event: unknown, ack?: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (r: object) => void) : () => undefined;
      const data = socket.data as SocketData;
      if (data.access !== 'write') {
        return reply({ ok: false, reason: 'Unauthorized', description: 'publishing needs the bearer token (connect with auth: { token }).' });
      }
      const problem = publishProblem(event);
      if (problem) return reply({ ok: false, reason: 'API_InvalidArgument', description: problem });
      socket.broadcast.emit('campaign', { from: data.client, received_ms: Date.now(), event });
      reply({ ok: true });
    });
    try {
      const view = await service.view();
      socket.emit('hello', { ...view, state: toWire(view.state), speed: opts.speed });
    } catch {
      // A rejection here would be unhandled (and end the process); without its snapshot the socket is of no use.
      socket.disconnect(true);
    }
  });

  const enrich = telemetryEnricher();
  const subscriptions: Subscription[] = [
    service.telemetry$.subscribe((record) => {
      // A throw here would reach rxjs's unhandled-error path and kill the process: one record
      // that cannot be encoded is reported to subscribers in its place instead.
      try {
        // Encoding costs even with no sockets; skip it when nobody listens.
        const wire = enrich(record, io.engine.clientsCount > 0);
        if (wire) io.emit('telemetry', wire);
      } catch (e) {
        io.emit('telemetry', { type: 'unencodable', t_s: Number.isFinite(record.t_s) ? record.t_s : null, record_type: record.type, ...errorBody(e) });
      }
    }),
    service.queue.holder$.subscribe((holder) => io.emit('holder', { holder, queued: service.queue.queued })),
    // Patches after a reset apply to the new twin's snapshot: subscribers need it first.
    service.resets$.subscribe((reset) => {
      service.view().then(
        (view) => io.emit('hello', { ...view, state: toWire(view.state), speed: opts.speed, reset }),
        () => undefined,
      );
    }),
  ];

  return {
    io,
    close: async () => {
      for (const s of subscriptions) s.unsubscribe();
      io.disconnectSockets(true);
      // io.close() would also close the HTTP server, which fastify owns.
      io.removeAllListeners();
      io.engine.close();
    },
  };
}

/** Why a published event is refused, or undefined when it is fine. */
export function publishProblem(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return 'an event must be an object with a string "type", e.g. { type: "iteration", ... }';
  if (typeof (event as { type?: unknown }).type !== 'string') return 'the event needs a string "type"';
  // Relaying walks the event (socket.io looks for binary parts recursively): bound the walk first.
  if (nestsTooDeep(event)) return tooDeep('event').description;
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(event));
  } catch {
    return 'the event must be plain JSON';
  }
  if (size > MAX_PUBLISHED_BYTES) return `the event is ${size} bytes as JSON; at most ${MAX_PUBLISHED_BYTES} are relayed`;
  return undefined;
}
