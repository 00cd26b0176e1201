import type { IncomingHttpHeaders } from 'node:http';

/**
 * How the server names a client in telemetry and in `holder`: the `x-client-id` header when a
 * client sends one, else the MCP session, else the remote address. Names are cut and cleaned so a
 * header cannot inject markup or flood logs.
 */
export function clientIdHeader(headers: IncomingHttpHeaders): string | undefined {
  const raw = headers['x-client-id'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (typeof value !== 'string') return undefined;
  const clean = value.replace(/[^\w.@:/+-]/g, '_').slice(0, 100);
  return clean.length ? clean : undefined;
}

export function restClientId(headers: IncomingHttpHeaders, remoteAddress: string | undefined): string {
  return clientIdHeader(headers) ?? `rest@${remoteAddress ?? 'unknown'}`;
}
