import type { IncomingHttpHeaders } from 'node:http';
import Fastify from 'fastify';
import { InProcessInstrument, type ClockPacing } from '../../protocol/in-process.js';
import { BehaviorSubject, switchMap } from 'rxjs';
import { twinDigest, type Scenario } from '../../protocol/scenario.js';
import { createTwin, type Twin } from '../../twin/index.js';
import { servedData } from '../data/served-data.js';
import { AccessPolicy, hostHeaderAllowed, isLoopbackHost, normalOrigin, originAllowed } from './auth.js';
import { installErrorHandling } from './errors.js';
import { installJsonBody } from './json-body.js';
import { registerMcp } from './mcp.js';
import { DATA_ROUTE_DESCRIPTION, registerDataRoute } from '../data/data-route.js';
import { REST_ROUTES, registerRest } from './rest.js';
import type { SessionLimitOptions } from './session-limits.js';
import { attachTelemetry } from './telemetry.js';
import { TwinService, type TwinBackend } from './twin-service.js';
import type { DataDevice } from '../data/data-device.js';

/** The HTTP body limit: commands and attribute writes are small. */
export const BODY_LIMIT_BYTES = 64 * 1024;

export interface ServerOptions {
  scenario: Scenario;
  /** Default: the scenario's seed. */
  seed?: number;
  /** Default 127.0.0.1. Anything but loopback needs `token`. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** Virtual seconds per wall second (1: the instrument's real rhythm), or 'max' (unpaced). Default 'max'. */
  speed?: number | 'max';
  /** Bearer token for state-changing requests (and for any request from a non-loopback peer, or to a non-loopback bind). */
  token?: string;
  /** Reads need the token too, loopback peers included. Default: when `host` is not loopback. */
  readsNeedToken?: boolean;
  /** Browser origins (e.g. "http://localhost:5173") allowed besides same-host loopback pages; see originAllowed. */
  allowOrigins?: string[];
  logger?: boolean;
  /** MCP session bounds (in all, per client, kept for token holders): see session-limits.ts. */
  sessionLimits?: SessionLimitOptions;
  /** Where acquisitions are written as .h5 files (DATA.save_path). Default: a fresh directory under the OS temp dir, removed on close. */
  dataDir?: string;
}

export interface RunningServer {
  /** http://host:port */
  url: string;
  mcpUrl: string;
  restUrl: string;
  /** socket.io endpoint (connect with path /socket.io). */
  socketUrl: string;
  /** The twin served now (a reset replaces it). */
  readonly twin: Twin;
  service: TwinService;
  speed: number | 'max';
  /** The DATA device: get_config(), the save path, the file route's uri. */
  data: DataDevice;
  close(): Promise<void>;
}

/** A refused configuration (e.g. a public bind without a token). */
export class ServeConfigError extends Error {}

export function checkServeOptions(opts: Pick<ServerOptions, 'host' | 'token' | 'speed' | 'allowOrigins'>): void {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host) && !opts.token) {
    throw new ServeConfigError(
      `refusing to listen on ${host} without a token: anyone who can reach it could drive the instrument. Pass --token <secret> (clients send Authorization: Bearer <secret>), or bind 127.0.0.1.`,
    );
  }
  if (opts.token !== undefined && opts.token.length < 8) throw new ServeConfigError('the token must be at least 8 characters long.');
  if (opts.speed !== undefined && opts.speed !== 'max' && !(Number.isFinite(opts.speed) && opts.speed > 0)) {
    throw new ServeConfigError(`speed must be a positive number or "max", got ${String(opts.speed)}`);
  }
  for (const origin of opts.allowOrigins ?? []) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    // An origin is scheme://host[:port] and nothing more; a path would never match a browser's Origin header.
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== normalOrigin(origin)) {
      throw new ServeConfigError(`--allow-origin takes a web origin such as http://localhost:5173 (scheme, host, port; no path), got "${origin.slice(0, 100)}"`);
    }
  }
}

/**
 * The one place a served twin is made, at start and on every reset (DigitalTwin_reset): whatever
 * hangs off a twin is attached here, so it follows each new one.
 */
export function makeServedTwin(scenario: Scenario, seed: number): Twin {
  return createTwin(scenario, { seed });
}

/** The served twin: the current one (made by `make`), and one telemetry stream across resets. */
export interface ServedTwin extends TwinBackend {
  readonly current: Twin;
  /** Ends the current twin's telemetry. */
  complete(): void;
}

/** The twin as the service sees it: a paced in-process adapter per client, its snapshot and telemetry, and resets. */
export function servedTwin(scenario: Scenario, seed: number, pacing: ClockPacing, make: (seed: number) => Twin = (s) => makeServedTwin(scenario, s)): ServedTwin {
  const twins = new BehaviorSubject(make(seed));
  const digest = twinDigest(scenario);
  return {
    get current() {
      return twins.value;
    },
    instrumentFor: (client) => new InProcessInstrument(twins.value.twin, client, { pacing }),
    snapshot: () => twins.value.twin.state,
    // Subscribers (socket.io's relay) stay subscribed across resets and hear the new twin.
    telemetry$: twins.pipe(switchMap((t) => t.telemetry.records$)),
    scenario: () => ({ name: scenario.name, seed: twins.value.seed, digest }),
    reset: (next) => {
      const old = twins.value;
      twins.next(make(next ?? old.seed));
      old.telemetry.complete();
    },
    complete: () => twins.value.telemetry.complete(),
  };
}

/** Why a request is not addressed to this server by a trusted party (wrong Host, foreign Origin), or undefined when it is. */
export function addressedHere(bindHost: string, headers: IncomingHttpHeaders, allowOrigins: readonly string[]): { reason: string; description: string } | undefined {
  if (!hostHeaderAllowed(bindHost, headers.host)) {
    return { reason: 'ForbiddenHost', description: `this server listens on ${bindHost} and answers only requests addressed to it (Host ${String(headers.host).slice(0, 100)} refused).` };
  }
  const origin = Array.isArray(headers.origin) ? headers.origin[0] : headers.origin;
  if (!originAllowed(origin, headers.host, allowOrigins)) {
    return { reason: 'ForbiddenOrigin', description: `requests from web pages at ${String(origin).slice(0, 100)} are refused; start the server with --allow-origin ${String(origin).slice(0, 100)} to allow that page.` };
  }
  return undefined;
}

/** One fastify server over one served twin (replaced on reset): MCP at /mcp, REST under /api, socket.io telemetry at /socket.io. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  checkServeOptions(opts);
  const host = opts.host ?? '127.0.0.1';
  const speed = opts.speed ?? 'max';
  const stop = new AbortController();
  const data = await servedData({ host, port: opts.port ?? 8000, dataDir: opts.dataDir });
  // Every twin this server makes (the first and each reset's) writes its acquisitions as files.
  const make = (seed: number): Twin => {
    const made = makeServedTwin(opts.scenario, seed);
    data.attach(made);
    return made;
  };
  const twin = servedTwin(opts.scenario, opts.seed ?? opts.scenario.seed, { speed, signal: stop.signal }, make);
  const service = new TwinService(twin, { data: data.device });
  const policy = new AccessPolicy(opts.token, opts.readsNeedToken ?? !isLoopbackHost(host));

  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: BODY_LIMIT_BYTES, forceCloseConnections: true, return503OnClosing: true });
  installJsonBody(app);
  installErrorHandling(app, [...REST_ROUTES, 'GET|POST|DELETE /mcp (MCP streamable HTTP)', 'socket.io at /socket.io', DATA_ROUTE_DESCRIPTION]);
  const requestAllowed = (headers: IncomingHttpHeaders) => addressedHere(host, headers, opts.allowOrigins ?? []);
  // Every route, known or not (fastify runs onRequest before routing); socket.io checks the same in allowRequest.
  app.addHook('onRequest', async (request, reply) => {
    const refusal = requestAllowed(request.headers);
    if (refusal) return reply.code(403).send(refusal);
  });
  const mcp = registerMcp(app, { service, policy, limits: opts.sessionLimits });
  registerRest(app, { service, policy, speed });
  registerDataRoute(app, { device: data.device, policy });
  const telemetry = attachTelemetry(app.server, { service, policy, speed, requestAllowed });
  await app.listen({ host, port: opts.port ?? 8000 });

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  data.device.listening(host, port ?? 8000);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    mcpUrl: `${url}/mcp`,
    restUrl: `${url}/api`,
    socketUrl: url,
    get twin() {
      return twin.current;
    },
    service,
    speed,
    data: data.device,
    close: () =>
      (closed ??= (async () => {
        const draining = service.close();
        // Commands still running at a paced speed would hold shutdown for their whole duration.
        stop.abort();
        await draining;
        await mcp.close();
        await telemetry.close();
        await app.close();
        await data.close();
        twin.complete();
      })()),
  };
}
