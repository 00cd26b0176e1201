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
 */
export interface Publisher {
  /** Relays one event ({ type: string, ... }); rejects with InstrumentError when the server refuses it. */
  publish(event: object): Promise<void>;
  close(): void;
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
