import type { DeviceName } from './commands.js';
import { InstrumentError, type AttributeWrite, type CommandOutcome, type CommandRequest, type DataRecord, type Instrument } from './instrument.js';

/**
 * What an in-process twin offers the adapter (src/protocol must not import src/twin, so the twin
 * implements this). `execute` and `writeAttribute` start a command on the twin's virtual clock
 * and settle when it ends; `runUntilSettled` advances that clock until a promise settles.
 */
export interface TwinEndpoint {
  execute(request: CommandRequest, client?: string): Promise<CommandOutcome>;
  writeAttribute(write: AttributeWrite, client?: string): Promise<CommandOutcome<null>>;
  /** Throws InstrumentError for an unknown device or attribute. */
  readAttribute(device: DeviceName, attribute: string): unknown;
  /** Throws InstrumentError for an unknown key. */
  getData(key: string): DataRecord;
  now_s(): number;
  /** Advances the clock until `p` settles; unpaced unless `pacing` says otherwise. */
  runUntilSettled<T>(p: Promise<T>, pacing?: ClockPacing): Promise<T>;
}

/** How fast virtual time runs against the wall clock (src/events Pacing, restated: protocol imports no twin). */
export interface ClockPacing {
  /** Virtual seconds per wall second, or 'max' (as fast as possible). */
  speed: number | 'max';
  /** Stops pacing (the command then completes at full speed). */
  signal?: AbortSignal;
}

/**
 * The Instrument a policy drives when the twin runs in the same process: each command is started
 * on the twin and the simulation is run until the command completes, unpaced by default (a
 * server passes `pacing` to run in step with the wall clock). The policy never sees the twin
 * itself, only the protocol's types.
 */
export class InProcessInstrument implements Instrument {
  readonly name = 'twin (in-process)';
  private closed = false;

  constructor(
    private readonly twin: TwinEndpoint,
    /** Who drives, recorded with every command in the twin's telemetry. */
    private readonly client?: string,
    private readonly opts: { pacing?: ClockPacing } = {},
  ) {}

  async execute(request: CommandRequest): Promise<CommandOutcome> {
    this.ensureOpen(request.command);
    return this.twin.runUntilSettled(this.twin.execute(request, this.client), this.opts.pacing);
  }

  async writeAttribute(write: AttributeWrite): Promise<CommandOutcome<null>> {
    this.ensureOpen(`${write.device}.${write.attribute}`);
    return this.twin.runUntilSettled(this.twin.writeAttribute(write, this.client), this.opts.pacing);
  }

  async readAttribute(device: DeviceName, attribute: string): Promise<unknown> {
    this.ensureOpen(`${device}.${attribute}`);
    return this.twin.readAttribute(device, attribute);
  }

  async getData(key: string): Promise<DataRecord> {
    this.ensureOpen('get_data_from_key');
    return this.twin.getData(key);
  }

  async now_s(): Promise<number> {
    return this.twin.now_s();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private ensureOpen(what: string): void {
    if (this.closed) throw new InstrumentError('API_ConnectionClosed', 'this in-process instrument was closed; create a new one over the twin to continue.', what);
  }
}
