import Fastify from 'fastify';
import { InProcessInstrument, type ClockPacing } from '../../protocol/in-process.js';
import type { Scenario } from '../../protocol/scenario.js';
import { createTwin, type Twin } from '../../twin/index.js';
import { AccessPolicy, hostHeaderAllowed, isLoopbackHost } from './auth.js';
import { installErrorHandling } from './errors.js';
import { registerMcp } from './mcp.js';
import { REST_ROUTES, registerRest } from './rest.js';
import type { SessionLimitOptions } from './session-limits.js';
import { attachTelemetry } from './telemetry.js';
import { TwinService, type TwinBackend } from './twin-service.js';

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
  /** Bearer token for state-changing requests (and for any request from a non-loopback peer). */
  token?: string;
  logger?: boolean;
  /** MCP session bounds (in all, per client, kept for token holders): see session-limits.ts. */
  sessionLimits?: SessionLimitOptions;
}

export interface RunningServer {
  /** http://host:port */
  url: string;
  mcpUrl: string;
  restUrl: string;
  /** socket.io endpoint (connect with path /socket.io). */
  socketUrl: string;
  twin: Twin;
  service: TwinService;
  speed: number | 'max';
  close(): Promise<void>;
}

/** A refused configuration (e.g. a public bind without a token). */
export class ServeConfigError extends Error {}

export function checkServeOptions(opts: Pick<ServerOptions, 'host' | 'token' | 'speed'>): void {
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
}

/** The twin as the service sees it: a paced in-process adapter per client, its snapshot and telemetry. */
export function twinBackend(t: Twin, pacing: ClockPacing): TwinBackend {
  return {
    instrumentFor: (client) => new InProcessInstrument(t.twin, client, { pacing }),
    snapshot: () => t.twin.state,
    telemetry$: t.telemetry.records$,
  };
}

/** One fastify server over one twin: MCP at /mcp, REST under /api, socket.io telemetry at /socket.io. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  checkServeOptions(opts);
  const host = opts.host ?? '127.0.0.1';
  const speed = opts.speed ?? 'max';
  const twin = createTwin(opts.scenario, { seed: opts.seed });
  const stop = new AbortController();
  const service = new TwinService(twinBackend(twin, { speed, signal: stop.signal }));
  const policy = new AccessPolicy(opts.token);

  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: BODY_LIMIT_BYTES, forceCloseConnections: true, return503OnClosing: true });
  installErrorHandling(app, [...REST_ROUTES, 'GET|POST|DELETE /mcp (MCP streamable HTTP)', 'socket.io at /socket.io']);
  const hostAllowed = (h: string | undefined) => hostHeaderAllowed(host, h);
  app.addHook('onRequest', async (request, reply) => {
    if (!hostAllowed(request.headers.host)) {
      return reply.code(403).send({ reason: 'ForbiddenHost', description: `this server listens on ${host} and answers only requests addressed to it (Host ${String(request.headers.host).slice(0, 100)} refused).` });
    }
  });
  const mcp = registerMcp(app, { service, policy, limits: opts.sessionLimits });
  registerRest(app, { service, policy, speed });
  const telemetry = attachTelemetry(app.server, { service, policy, speed, hostAllowed });
  await app.listen({ host, port: opts.port ?? 8000 });

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    mcpUrl: `${url}/mcp`,
    restUrl: `${url}/api`,
    socketUrl: url,
    twin,
    service,
    speed,
    close: () =>
      (closed ??= (async () => {
        const draining = service.close();
        // Commands still running at a paced speed would hold shutdown for their whole duration.
        stop.abort();
        await draining;
        await mcp.close();
        await telemetry.close();
        await app.close();
        twin.telemetry.complete();
      })()),
  };
}
