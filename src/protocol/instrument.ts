import type { DeviceName } from './commands.js';
import type { Breakdown } from './timing.js';

/**
 * The one interface a policy drives. Implemented by the in-process twin adapter (virtual clock)
 * and by the remote adapter (MCP, twin or real microscope). Like ophyd-async's protocols: plans
 * are written against this, and the backend is swapped underneath.
 */
export interface Instrument {
  /** A short human name of the backend, e.g. "twin (in-process)" or "mcp http://host:8000/mcp". */
  readonly name: string;

  /** Runs one Tango command. `device` defaults to the instrument device. Rejects with InstrumentError. */
  execute(request: CommandRequest): Promise<CommandOutcome>;

  /** Writes a device setting (Tango attribute), e.g. SCAN dwell_time. Rejects with InstrumentError. */
  writeAttribute(write: AttributeWrite): Promise<CommandOutcome<null>>;

  /** Reads a device setting. */
  readAttribute(device: DeviceName, attribute: string): Promise<unknown>;

  /** Reads an acquisition back by its key (the Tiled data server on the real instrument). */
  getData(key: string): Promise<DataRecord>;

  /**
   * Seconds on the instrument's clock since it started: virtual time for the twin, wall time
   * for hardware. Campaign time budgets are measured on this clock.
   */
  now_s(): Promise<number>;

  /** Releases connections. */
  close(): Promise<void>;
}

export interface CommandRequest {
  /** Defaults to 'instrument'. */
  device?: DeviceName;
  command: string;
  /** The single Tango argument, as the real server takes it (array, number, string), or undefined. */
  args?: unknown;
}

export interface AttributeWrite {
  device: DeviceName;
  attribute: string;
  value: unknown;
}

/** What a command returned, and when it ran on the instrument's clock. */
export interface CommandOutcome<T = unknown> {
  value: T;
  start_s: number;
  end_s: number;
  /** Seconds per latency category; sums to end_s - start_s. */
  breakdown_s: Breakdown;
}

/**
 * A refused command, in the style of Tango's DevFailed: a named reason and a description a
 * person can act on. The instrument's state is unchanged when this is thrown.
 */
export class InstrumentError extends Error {
  /** For a command the instrument refused after spending time on it: when, as a success reports it. */
  timing?: Omit<CommandOutcome, 'value'>;

  constructor(
    /** e.g. "API_InvalidArgument", "API_CommandNotFound", "OutOfRange", "BeamShiftRange". */
    readonly reason: string,
    readonly description: string,
    /** The command or attribute that was refused, e.g. "DigitalTwin.move_stage" or "SCAN.dwell_time". */
    readonly origin: string,
  ) {
    super(`${origin}: ${reason}: ${description}`);
    this.name = 'InstrumentError';
  }

  toJSON(): { reason: string; description: string; origin: string } {
    return { reason: this.reason, description: this.description, origin: this.origin };
  }
}

/** One dataset of an acquisition (an HDF5 dataset on the real data server). */
export interface DatasetRecord {
  /** e.g. "image/HAADF", "image/EDS_Au", "spectrum". */
  name: string;
  /** Row-major: images are [rows (y), columns (x)], spectra [channels]. */
  shape: number[];
  dtype: 'float64' | 'float32' | 'uint32' | 'uint16';
  attrs: Record<string, unknown>;
  values: Float64Array;
}

/** An acquisition read back by key. Mirrors the bridge's get_data_from_key result, with whole arrays. */
export interface DataRecord {
  key: string;
  uri: string;
  format: string;
  attrs: Record<string, unknown>;
  datasets: DatasetRecord[];
}

export function dataset(record: DataRecord, name: string): DatasetRecord {
  const d = record.datasets.find((x) => x.name === name);
  if (!d) throw new Error(`data ${record.key} has no dataset "${name}" (it has: ${record.datasets.map((x) => x.name).join(', ')})`);
  return d;
}

/** A short rendering of a value for error messages ("nothing" for undefined; NaN stays NaN). */
export function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
