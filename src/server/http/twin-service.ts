import { Subject, type Observable } from 'rxjs';
import { DEVICES, tangoClass, type DeviceName } from '../../protocol/commands.js';
import { InstrumentError, shown, type AttributeWrite, type CommandOutcome, type CommandRequest, type DataRecord, type Instrument } from '../../protocol/instrument.js';
import type { InstrumentTelemetry } from '../../twin/index.js';
import { checkArgument, lookupCommand } from './arguments.js';
import { nestsTooDeep, tooDeep } from './serialization.js';
import { BeamQueue, type Holder } from './beam-queue.js';
import { InstrumentLease, type LeaseInfo } from './lease.js';

/** The served scenario, as DigitalTwin_get_scenario reports it: a client checks it drives the twin it means to. */
export interface ScenarioInfo {
  name: string;
  seed: number;
  /** twinDigest(scenario): the specimen and instrument as a fingerprint. */
  digest: string;
}

/**
 * What the service needs of a twin: an adapter per client, the state snapshot, the telemetry, and
 * a way to replace the twin by a fresh one. Everything is asked of the current twin each time, so
 * after a reset nothing keeps using the old one.
 */
export interface TwinBackend {
  /** An Instrument that records `client` with every command (a paced in-process adapter for the twin). */
  instrumentFor(client: string): Instrument;
  /** The committed state snapshot. */
  snapshot(): unknown;
  /** The current twin's telemetry; one stream across resets. */
  telemetry$: Observable<InstrumentTelemetry>;
  scenario(): ScenarioInfo;
  /** Replaces the twin by a fresh one of the same scenario; `seed` draws a new specimen (default: the served seed). */
  reset(seed?: number): void;
}

/** The served DATA device (src/server/data/data-device.ts); without one, DATA commands go to the twin, which refuses them. */
export interface DataCommands {
  execute(command: string, arg: unknown): Promise<CommandOutcome>;
}

const RESET_ORIGIN = 'DigitalTwin.reset';
/** The largest seed a reset takes (as `serve --seed`). */
export const MAX_SEED = 2 ** 31 - 1;

export interface TwinStateView {
  state: unknown;
  clock_s: number;
  holder: Holder | null;
  queued: number;
  /** Who leases the instrument (its lease_id is told only to the holder). */
  lease: Omit<LeaseInfo, 'lease_id'> | null;
}

/**
 * The served instrument, shared by every transport: commands and attribute writes from all
 * clients go through one BeamQueue (one beam, arrival order); reads are served at once from the
 * committed snapshot and the data store. Shapes are checked here, before the twin sees a request.
 */
export class TwinService {
  readonly queue: BeamQueue;
  /** Exclusive use of the instrument by one client (see lease.ts). */
  readonly lease: InstrumentLease;
  private closing = false;
  private readonly resetSubject = new Subject<ScenarioInfo>();
  /** Each reset's new twin, once it has replaced the old one (socket.io sends its subscribers a fresh hello). */
  readonly resets$: Observable<ScenarioInfo> = this.resetSubject.asObservable();
  private readonly data?: DataCommands;

  constructor(
    private readonly backend: TwinBackend,
    opts: { maxQueued?: number; clock_ms?: () => number; data?: DataCommands } = {},
  ) {
    this.data = opts.data;
    this.queue = new BeamQueue(opts.maxQueued);
    this.lease = new InstrumentLease(opts.clock_ms);
  }

  /** Reads need no client name; an adapter of the current twin serves them. */
  private get reader(): Instrument {
    return this.backend.instrumentFor('reader');
  }

  get telemetry$(): Observable<InstrumentTelemetry> {
    return this.backend.telemetry$;
  }

  /** Runs a Tango command for `client`, after every command that arrived before it. */
  execute(client: string, request: CommandRequest): Promise<CommandOutcome> {
    try {
      this.ensureOpen(String(request.command));
      // Before anything recursive (lookups and checks print the value) meets it.
      if (nestsTooDeep(request.args)) throw tooDeep('args', String(request.command).slice(0, 100));
      const spec = lookupCommand(request.device, request.command);
      const args = checkArgument(spec, request.args);
      const device = spec.device;
      const origin = `${tangoClass(device)}.${spec.name}`;
      this.lease.admit(client, origin, spec.changesState);
      // DATA: files and their server, beside the twin (src/server/data); no beam, no queue.
      if (device === 'DATA' && this.data) return this.leaseAware(client, this.data.execute(spec.name, args));
      return this.leaseAware(client, this.queue.run(client, origin, () => this.closingAware(origin, this.backend.instrumentFor(client).execute({ device, command: spec.name, args }))));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Writes a device setting for `client`, in the same queue as commands. */
  writeAttribute(client: string, write: AttributeWrite): Promise<CommandOutcome<null>> {
    try {
      const origin = this.attributeOrigin(write.device, write.attribute);
      this.ensureOpen(origin);
      // Telemetry carries the value to every subscriber: refuse what no encoder should have to walk.
      if (nestsTooDeep(write.value)) throw tooDeep(write.attribute, origin);
      if (write.value === undefined) throw new InstrumentError('API_InvalidArgument', 'a value is required', origin);
      this.lease.admit(client, origin, true);
      return this.leaseAware(client, this.queue.run(client, origin, () => this.closingAware(origin, this.backend.instrumentFor(client).writeAttribute(write))));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async readAttribute(device: DeviceName, attribute: string): Promise<unknown> {
    this.attributeOrigin(device, attribute);
    return this.reader.readAttribute(device, attribute);
  }

  async getData(key: string): Promise<DataRecord> {
    if (typeof key !== 'string' || key.length === 0 || key.length > 500) {
      throw new InstrumentError('API_InvalidArgument', `key must be a data key string (up to 500 characters), got ${shown(key)}`, 'DATA.get_data_from_key');
    }
    try {
      return await this.reader.getData(key);
    } catch (e) {
      // The bridge's wording, which clients of the real one match on; the twin's detail follows.
      if (e instanceof InstrumentError && e.reason === 'API_DataNotFound') throw new InstrumentError(e.reason, `Could not resolve data key: ${e.description}`, e.origin);
      throw e;
    }
  }

  scenario(): ScenarioInfo {
    return this.backend.scenario();
  }

  /**
   * A fresh twin for the next campaign: after the commands queued before it (it waits its turn
   * in the queue, so none runs half on the old twin), refused while another client leases the
   * instrument. The lease of the caller, if any, stays.
   */
  reset(client: string, seed?: unknown): Promise<ScenarioInfo> {
    try {
      this.ensureOpen(RESET_ORIGIN);
      if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > MAX_SEED)) {
        throw new InstrumentError('API_InvalidArgument', `seed must be a whole number from 0 to ${MAX_SEED}, got ${shown(seed)}`, RESET_ORIGIN);
      }
      this.lease.admit(client, RESET_ORIGIN, true);
      return this.leaseAware(
        client,
        this.queue.run(client, RESET_ORIGIN, async () => {
          this.backend.reset(seed);
          const info = this.backend.scenario();
          this.resetSubject.next(info);
          return info;
        }),
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  now_s(): Promise<number> {
    return this.reader.now_s();
  }

  async view(): Promise<TwinStateView> {
    const held = this.lease.holder;
    const lease = held ? { client: held.client, since_ms: held.since_ms, expires_ms: held.expires_ms, idle_s: held.idle_s } : null;
    return { state: this.backend.snapshot(), clock_s: await this.now_s(), holder: this.queue.holder, queued: this.queue.queued, lease };
  }

  /** Refuses new work and waits (up to `timeout_ms`) for queued work to finish. */
  async close(timeout_ms = 2000): Promise<void> {
    this.closing = true;
    await Promise.race([this.queue.drain(), new Promise((r) => setTimeout(r, timeout_ms).unref())]);
    this.queue.complete();
  }

  /** The holder's lease stays alive through a long (paced) command: its idle time counts from the command's end. */
  private leaseAware<T>(client: string, running: Promise<T>): Promise<T> {
    return running.finally(() => this.lease.touch(client));
  }

  /** A command cut short by shutdown (its paced run aborted) is reported as such, not as an internal error. */
  private closingAware<T>(origin: string, running: Promise<T>): Promise<T> {
    return running.catch((e: unknown) => {
      if (this.closing && !(e instanceof InstrumentError)) {
        throw new InstrumentError('ServerClosing', 'the server shut down while this command ran; its effect on the instrument is unknown.', origin);
      }
      throw e;
    });
  }

  private ensureOpen(origin: string): void {
    if (this.closing) throw new InstrumentError('ServerClosing', 'the server is shutting down and accepts no more commands.', origin);
  }

  private attributeOrigin(device: unknown, attribute: unknown): string {
    if (!(DEVICES as readonly unknown[]).includes(device)) {
      throw new InstrumentError('API_DeviceNotFound', `no device ${shown(device)}; devices: ${DEVICES.join(', ')}.`, `${String(device)}.${String(attribute)}`);
    }
    if (typeof attribute !== 'string' || attribute.length === 0 || attribute.length > 100) {
      throw new InstrumentError('API_InvalidArgument', `attribute must be an attribute name, got ${shown(attribute)}`, `${String(device)}.?`);
    }
    return `${device}.${attribute}`;
  }
}
