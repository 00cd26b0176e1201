import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Who may do what. Without a token (only allowed on loopback) everything is open. With a token:
 * state-changing requests need `Authorization: Bearer <token>`; reads stay open to loopback peers
 * of a loopback-bound server and need the token from anywhere else, and from everyone when the
 * server listens off loopback (there the Host header proves nothing: a rebound name reaches it
 * through a local browser as a loopback peer); a wrong token is always refused.
 */
export type Access = 'write' | 'read';

export type AccessDecision = { ok: true; access: Access } | { ok: false; reason: 'Unauthorized'; description: string };

/** True for addresses on this machine: 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || a === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** True for a bind host that only loopback peers can reach. */
export function isLoopbackHost(host: string): boolean {
  return isLoopbackAddress(host) || host.toLowerCase() === 'localhost';
}

/** The host name of a Host header ("127.0.0.1:8000", "[::1]:8000", "localhost"), without the port. */
export function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.indexOf(':');
  return colon >= 0 && h.indexOf(':', colon + 1) < 0 ? h.slice(0, colon) : h;
}

/**
 * A server bound to loopback answers only requests addressed to a loopback name: a web page that
 * rebinds its own domain to 127.0.0.1 (DNS rebinding) sends its domain in Host and is refused.
 */
export function hostHeaderAllowed(bindHost: string, hostHeader: string | undefined): boolean {
  if (!isLoopbackHost(bindHost)) return true;
  return hostHeader !== undefined && isLoopbackHost(hostName(hostHeader));
}

/** An Origin as compared: scheme://host[:port], lower case, no trailing slash. */
export function normalOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

/**
 * Whether a request carrying `originHeader` may be answered. Browsers send Origin on cross-site
 * requests and on every WebSocket handshake, so without this check any web page open in a local
 * browser could read the telemetry and drive the twin. Allowed: no Origin (scripts, the MCP SDK,
 * curl), a loopback page addressed to this very server (same host and port as Host), and the
 * origins the operator named (--allow-origin). Everything else, "null" included, is refused.
 */
export function originAllowed(originHeader: string | undefined, hostHeader: string | undefined, allowed: readonly string[] = []): boolean {
  if (originHeader === undefined) return true;
  const origin = normalOrigin(originHeader);
  if (allowed.some((a) => normalOrigin(a) === origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return hostHeader !== undefined && url.host === hostHeader.trim().toLowerCase() && isLoopbackHost(hostName(url.host));
}

/** Compares secrets in time independent of where they differ (hashing first equalises lengths). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of an Authorization header, or undefined when there is none. */
export function bearerToken(headers: IncomingHttpHeaders | Record<string, unknown>): string | undefined {
  const h = headers['authorization'];
  const value = Array.isArray(h) ? h[0] : h;
  if (typeof value !== 'string') return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(value.trim());
  return m ? m[1]!.trim() : '';
}

export class AccessPolicy {
  constructor(
    private readonly token: string | undefined,
    /** Reads need the token too, from loopback peers as well (default: no). */
    private readonly readsNeedToken = false,
  ) {}

  get tokenRequired(): boolean {
    return this.token !== undefined;
  }

  /** What a peer at `remoteAddress` presenting `given` (a bearer token, or undefined) may do. */
  decide(remoteAddress: string | undefined, given: string | undefined): AccessDecision {
    if (this.token === undefined) return { ok: true, access: 'write' };
    if (given !== undefined) {
      if (sameSecret(given, this.token)) return { ok: true, access: 'write' };
      return { ok: false, reason: 'Unauthorized', description: 'the bearer token is wrong; send Authorization: Bearer <the token the server was started with (--token)>.' };
    }
    if (this.readsNeedToken) return { ok: false, reason: 'Unauthorized', description: 'this server listens beyond loopback and requires the token for every request; send Authorization: Bearer <token>.' };
    if (isLoopbackAddress(remoteAddress)) return { ok: true, access: 'read' };
    return { ok: false, reason: 'Unauthorized', description: 'this server requires a token from non-local clients; send Authorization: Bearer <token>.' };
  }

  /** The refusal of a state-changing request made with read access. */
  static writeRefused(what: string): { reason: 'Unauthorized'; description: string } {
    return { reason: 'Unauthorized', description: `${what} changes the instrument state; send Authorization: Bearer <token> (the server was started with --token).` };
  }
}
