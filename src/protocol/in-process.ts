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
  runUntilSettled<T>(p: Promise<T>): Promise<T>;
}

/**
 * The Instrument a policy drives when the twin runs in the same process: each command is started
 * on the twin and the simulation is run, unpaced, until the command completes. The policy never
 * sees the twin itself, only the protocol's types.
 */
export class InProcessInstrument implements Instrument {
  readonly name = 'twin (in-process)';
  private closed = false;

  constructor(
    private readonly twin: TwinEndpoint,
    /** Who drives, recorded with every command in the twin's telemetry. */
    private readonly client?: string,
  ) {}

  async execute(request: CommandRequest): Promise<CommandOutcome> {
    this.ensureOpen(request.command);
    return this.twin.runUntilSettled(this.twin.execute(request, this.client));
  }

  async writeAttribute(write: AttributeWrite): Promise<CommandOutcome<null>> {
    this.ensureOpen(`${write.device}.${write.attribute}`);
    return this.twin.runUntilSettled(this.twin.writeAttribute(write, this.client));
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
