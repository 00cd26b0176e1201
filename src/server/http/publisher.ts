import { io, type Socket } from 'socket.io-client';
import { InstrumentError } from '../../protocol/instrument.js';

/**
 * The client side of the telemetry server's `publish` event: a campaign runner that drives a
 * served twin over MCP (`stem-twin run --instrument URL`) relays its own events (iterations,
 * region visits, failed measurements) through here, so dashboards subscribed to the same server
 * see the policy's decisions next to the instrument's telemetry.
 *
 *   const publisher = await connectPublisher('http://127.0.0.1:8000/mcp', { token, client: 'run' });
 *   runSession(scenario, { ..., onEvent: (e) => void publisher.publish(e) });
 *   ...
 *   publisher.close();
 *
 * The relay is optional: asyncroscopy's own bridge serves MCP only, so a runner first asks
 * `hasTelemetryRelay(url)` and goes without when the server has no socket.io endpoint.
 */
export interface Publisher {
  /** Relays one event ({ type: string, ... }); rejects with InstrumentError when the server refuses it. */
  publish(event: object): Promise<void>;
  close(): void;
}

/**
 * Whether the server behind `url` answers socket.io's handshake (Engine.IO polling, protocol 4)
 * within `timeout_ms`: false for an MCP-only server (404), a closed port or silence. A refusal
 * (401/403: a token is needed) still counts as present, for connectPublisher to report.
 */
export async function hasTelemetryRelay(url: string, timeout_ms = 2000): Promise<boolean> {
  let probe: URL;
  try {
    probe = new URL('/socket.io/?EIO=4&transport=polling', new URL(url).origin);
  } catch {
    return false;
  }
  try {
    const res = await fetch(probe, { signal: AbortSignal.timeout(timeout_ms) });
    const body = await res.text();
    if (res.status === 401 || res.status === 403) return true;
    // An Engine.IO open packet: "0{"sid":...}".
    return res.ok && body.startsWith('0{');
  } catch {
    return false;
  }
}

/** Connects to the socket.io endpoint of the server behind `url` (its MCP URL or its base URL). */
export async function connectPublisher(url: string, opts: { token?: string; client?: string; timeout_ms?: number } = {}): Promise<Publisher> {
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    throw new InstrumentError('API_InvalidArgument', `"${url}" is not a URL; expected e.g. http://127.0.0.1:8000/mcp`, 'publish');
  }
  const auth: Record<string, string> = {};
  if (opts.token !== undefined) auth.token = opts.token;
  if (opts.client !== undefined) auth.client = opts.client;
  const socket: Socket = io(origin, { path: '/socket.io', transports: ['websocket'], auth, reconnection: true });
  const timeout_ms = opts.timeout_ms ?? 5000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no answer within ${timeout_ms} ms`)), timeout_ms);
    const fail = (e: Error & { data?: { reason?: string; description?: string } }) => {
      clearTimeout(timer);
      socket.close();
      reject(new InstrumentError(e.data?.reason ?? 'API_ConnectionFailed', e.data?.description ?? `cannot reach the telemetry server at ${origin}: ${e.message}`, 'publish'));
    };
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('connect_error', fail);
      resolve();
    });
    socket.once('connect_error', fail);
  });
  return {
    async publish(event: object): Promise<void> {
      const ack = (await socket.timeout(timeout_ms).emitWithAck('publish', event)) as { ok: boolean; reason?: string; description?: string };
      if (!ack.ok) throw new InstrumentError(ack.reason ?? 'API_PublishRefused', ack.description ?? 'the server refused the event', 'publish');
    },
    close: () => void socket.close(),
  };
}
