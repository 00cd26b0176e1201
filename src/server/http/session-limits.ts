/**
 * How many MCP sessions the server keeps, and for whom. Without bounds per client, one script
 * opening 256 tokenless sessions in a second locked every client out, token holders included,
 * until the idle sweep (30 min). So:
 *   - each owner (peer address + client name) keeps at most `perOwner` sessions; a new one beyond
 *     that replaces the owner's own least recently used idle session, never anyone else's;
 *   - tokenless sessions together may use all but `reservedForToken` of `maxSessions`, so a token
 *     holder can always open one;
 *   - beyond that the newcomer is refused with 429 naming the limit.
 */
export interface SessionLimitOptions {
  /** Sessions kept at once, all owners together (default 256). */
  maxSessions?: number;
  /** Sessions one owner (peer address + client name) keeps at once (default 8). */
  perOwner?: number;
  /** Sessions of `maxSessions` only token holders may use (default an eighth of it, at least 1). */
  reservedForToken?: number;
}

export interface SessionInfo {
  id: string;
  owner: string;
  /** Opened with the server's bearer token. */
  authenticated: boolean;
  lastSeen_ms: number;
  /** Requests being answered right now: a busy session is never evicted. */
  inFlight: number;
}

export type Admission = { ok: true; evict?: string } | { ok: false; status: 429 | 503; message: string };

export class SessionLimits {
  readonly maxSessions: number;
  readonly perOwner: number;
  readonly reservedForToken: number;

  constructor(opts: SessionLimitOptions = {}) {
    this.maxSessions = opts.maxSessions ?? 256;
    this.perOwner = Math.min(opts.perOwner ?? 8, this.maxSessions);
    this.reservedForToken = Math.min(opts.reservedForToken ?? Math.max(1, Math.floor(this.maxSessions / 8)), this.maxSessions - 1);
  }

  /** Whether a new session for `owner` may open, and which of the owner's own sessions it replaces. */
  admit(sessions: Iterable<SessionInfo>, owner: string, authenticated: boolean): Admission {
    const all = [...sessions];
    const own = all.filter((s) => s.owner === owner);
    if (own.length >= this.perOwner) {
      const idle = own.filter((s) => s.inFlight === 0).sort((a, b) => a.lastSeen_ms - b.lastSeen_ms)[0];
      if (idle) return { ok: true, evict: idle.id };
      return { ok: false, status: 429, message: `too many MCP sessions for this client (${own.length}, at most ${this.perOwner} per peer address and client name, all busy); close one (HTTP DELETE /mcp) and retry.` };
    }
    if (all.length >= this.maxSessions) {
      return { ok: false, status: 503, message: `too many MCP sessions (${all.length}, at most ${this.maxSessions} in all); close one (HTTP DELETE /mcp) and retry.` };
    }
    if (!authenticated) {
      const tokenless = all.filter((s) => !s.authenticated).length;
      const cap = this.maxSessions - this.reservedForToken;
      if (tokenless >= cap) {
        return { ok: false, status: 429, message: `too many tokenless MCP sessions (${tokenless}, at most ${cap}; ${this.reservedForToken} are kept for token holders); close one (HTTP DELETE /mcp) and retry.` };
      }
    }
    return { ok: true };
  }
}
