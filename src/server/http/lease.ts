import { randomUUID } from 'node:crypto';
import { InstrumentError } from '../../protocol/instrument.js';
import type { ForeignCommands } from '../../protocol/remote.js';

/**
 * An exclusive lease on the served instrument. Without one, another client's stage moves during
 * a campaign went unnoticed (570 s became 6,922 s, exit code 0). While a client holds the lease,
 * other clients' state-changing commands and attribute writes are refused (InstrumentLeased,
 * naming the holder); their reads still run and are counted, so the holder can report what ran
 * beside it. A lease lapses after `idle_s` without a command from its holder (wall clock), so a
 * crashed holder does not keep the instrument for good.
 *
 * Clients are told apart by the name the server gives them (x-client-id, else the MCP session):
 * a lease guards against accidents between cooperating clients, not against a client that
 * borrows another's name; the bearer token is the guard against strangers.
 */
export interface LeaseInfo {
  lease_id: string;
  client: string;
  since_ms: number;
  /** Wall-clock ms at which the lease lapses unless its holder sends a command first. */
  expires_ms: number;
  idle_s: number;
}


export const DEFAULT_LEASE_IDLE_s = 300;
export const MAX_LEASE_IDLE_s = 24 * 3600;
const ORIGIN = 'DigitalTwin.acquire_lease';

export class InstrumentLease {
  private current: { info: LeaseInfo; foreign: ForeignCommands } | undefined;

  constructor(private readonly clock_ms: () => number = Date.now) {}

  /** The live lease, or null (a lapsed lease is dropped here). */
  get holder(): LeaseInfo | null {
    if (this.current && this.clock_ms() >= this.current.info.expires_ms) this.current = undefined;
    return this.current ? { ...this.current.info } : null;
  }

  /** Takes the lease for `client`, or renews it when the client holds it already; refused while another holds it. */
  acquire(client: string, idle_s: unknown = DEFAULT_LEASE_IDLE_s): LeaseInfo {
    if (typeof idle_s !== 'number' || !Number.isFinite(idle_s) || idle_s <= 0 || idle_s > MAX_LEASE_IDLE_s) {
      throw new InstrumentError('API_InvalidArgument', `idle_s must be a number of seconds above 0 and at most ${MAX_LEASE_IDLE_s}, got ${String(idle_s).slice(0, 50)}`, ORIGIN);
    }
    const held = this.holder;
    if (held && held.client !== client) throw this.leased(ORIGIN, held);
    const now = this.clock_ms();
    if (held && this.current) {
      this.current.info = { ...held, idle_s, expires_ms: now + idle_s * 1000 };
    } else {
      this.current = { info: { lease_id: randomUUID(), client, since_ms: now, expires_ms: now + idle_s * 1000, idle_s }, foreign: { ran: {}, refused: {} } };
    }
    return { ...this.current.info };
  }

  /** Gives the lease up; only its holder may, and a given `lease_id` must match. Returns what other clients did meanwhile. */
  release(client: string, lease_id?: unknown): { lease: LeaseInfo; foreign: ForeignCommands } {
    const origin = 'DigitalTwin.release_lease';
    const held = this.holder;
    if (!held || held.client !== client) {
      throw new InstrumentError('API_NoLease', held ? `the lease is held by "${held.client}", not by this client ("${client}").` : 'no lease is held (it was released or lapsed).', origin);
    }
    if (lease_id !== undefined && lease_id !== held.lease_id) throw new InstrumentError('API_NoLease', `lease_id ${String(lease_id).slice(0, 64)} is not the current lease.`, origin);
    const foreign = this.current!.foreign;
    this.current = undefined;
    return { lease: held, foreign };
  }

  /**
   * Lets `client` run `origin` or throws InstrumentLeased: while another client holds the lease,
   * only reads pass. A command from the holder keeps its lease alive.
   */
  admit(client: string, origin: string, changesState: boolean): void {
    const held = this.holder;
    if (!held || !this.current) return;
    if (held.client === client) return this.touch(client);
    const tally = changesState ? this.current.foreign.refused : this.current.foreign.ran;
    tally[origin] = (tally[origin] ?? 0) + 1;
    if (changesState) throw this.leased(origin, held);
  }

  /** Pushes the holder's idle expiry on (at each command's start and end: a paced command may outlast idle_s). */
  touch(client: string): void {
    const held = this.holder;
    if (held && this.current && held.client === client) this.current.info.expires_ms = this.clock_ms() + held.idle_s * 1000;
  }

  /** Ends `client`'s lease, if it holds one, without a report (its MCP session ended: nobody is left to release it). */
  dropHeldBy(client: string): void {
    if (this.holder?.client === client) this.current = undefined;
  }

  private leased(origin: string, held: LeaseInfo): InstrumentError {
    const left_s = Math.max(0, Math.round((held.expires_ms - this.clock_ms()) / 1000));
    return new InstrumentError(
      'InstrumentLeased',
      `the instrument is leased to "${held.client}" (since ${new Date(held.since_ms).toISOString()}); its commands alone run until it releases the lease or is idle for ${held.idle_s} s (${left_s} s from now). Reads still work.`,
      origin,
    );
  }
}
