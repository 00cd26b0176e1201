import type { DeviceName } from './commands.js';
import type { CommandOutcome, DataRecord, Instrument } from './instrument.js';
import { addBreakdown, emptyBreakdown, type LatencyCategory } from './timing.js';

/**
 * A typed facade over an Instrument, with the real server's units: what a policy calls.
 * It also keeps a ledger of where the instrument's time went, so a campaign can report its
 * breakdown against hardware as well as against the twin.
 */
/** One command as the facade saw it, for traces. */
export interface CommandTrace {
  device: DeviceName;
  command: string;
  args: unknown;
  start_s: number;
  end_s: number;
  breakdown_s: CommandOutcome['breakdown_s'];
}

export class Microscope {
  private readonly ledger = emptyBreakdown();
  private commands = 0;

  constructor(
    readonly instrument: Instrument,
    /** Called after every command that succeeded. */
    private readonly onCommand?: (trace: CommandTrace) => void,
  ) {}

  /** Seconds per latency category spent by commands issued through this facade. */
  get breakdown_s(): Readonly<Record<LatencyCategory, number>> {
    return this.ledger;
  }

  get commandCount(): number {
    return this.commands;
  }

  now_s(): Promise<number> {
    return this.instrument.now_s();
  }

  getData(key: string): Promise<DataRecord> {
    return this.instrument.getData(key);
  }

  /** [x, y, z in m, alpha, beta in deg]. */
  async getStage(): Promise<number[]> {
    return (await this.run('get_stage')) as number[];
  }

  /** Absolute move; x, y, z in m, tilts in deg. */
  async moveStage(position: [number, number, number, number, number]): Promise<void> {
    await this.run('move_stage', position);
  }

  /** Moves x, y (m), keeping z and tilts. */
  async moveStageXY(x_m: number, y_m: number): Promise<void> {
    const [, , z, alpha, beta] = await this.getStage();
    await this.moveStage([x_m, y_m, z ?? 0, alpha ?? 0, beta ?? 0]);
  }

  /** Park the beam at fractions 0..1 of the scan field. */
  async placeBeam(fx: number, fy: number): Promise<void> {
    await this.run('place_beam', [fx, fy]);
  }

  async setImageShift(x_m: number, y_m: number): Promise<void> {
    await this.run('set_image_shift', [x_m, y_m]);
  }

  async setFov(fov_m: number): Promise<void> {
    await this.run('set_fov', fov_m);
  }

  async getFov(): Promise<number> {
    return (await this.run('get_fov')) as number;
  }

  async autoFocus(): Promise<void> {
    await this.run('auto_focus');
  }

  async blankBeam(): Promise<void> {
    await this.run('blank_beam');
  }

  async unblankBeam(): Promise<void> {
    await this.run('unblank_beam');
  }

  /** Scan with the SCAN settings; returns the data key. Include "eds" for an EDX frame. */
  async acquireScannedImage(detectors: string[] = ['haadf']): Promise<string> {
    return (await this.run('acquire_scanned_image', detectors)) as string;
  }

  /** EDX point spectrum at the parked beam; returns the data key. */
  async acquireSpectrum(detector = 'eds'): Promise<string> {
    return (await this.run('acquire_spectrum', detector)) as string;
  }

  /** EELS spectrum at the parked beam; returns the data key. */
  async acquireEelsSpectrum(): Promise<string> {
    return (await this.run('acquire_eels_spectrum', undefined, 'EELS')) as string;
  }

  async getParameters(): Promise<Record<string, unknown>> {
    return JSON.parse((await this.run('get_parameters')) as string) as Record<string, unknown>;
  }

  async setScan(settings: { dwell_time_s?: number; imsize?: number }): Promise<void> {
    if (settings.dwell_time_s !== undefined) await this.write('SCAN', 'dwell_time', settings.dwell_time_s);
    if (settings.imsize !== undefined) await this.write('SCAN', 'imsize', settings.imsize);
  }

  async setEdsExposure(exposure_s: number): Promise<void> {
    await this.write('EDS', 'exposure_time', exposure_s);
  }

  async setEels(settings: { exposure_time_s?: number; number_of_frames?: number }): Promise<void> {
    if (settings.exposure_time_s !== undefined) await this.write('EELS', 'exposure_time', settings.exposure_time_s);
    if (settings.number_of_frames !== undefined) await this.write('EELS', 'number_of_frames', settings.number_of_frames);
  }

  /** Any command of the surface, for what the typed methods do not cover. */
  async run(command: string, args?: unknown, device: DeviceName = 'instrument'): Promise<unknown> {
    return this.account(device, command, args, await this.instrument.execute({ command, args, device })).value;
  }

  async write(device: DeviceName, attribute: string, value: unknown): Promise<void> {
    this.account(device, attribute, value, await this.instrument.writeAttribute({ device, attribute, value }));
  }

  private account<T>(device: DeviceName, command: string, args: unknown, outcome: CommandOutcome<T>): CommandOutcome<T> {
    addBreakdown(this.ledger, outcome.breakdown_s);
    this.commands++;
    this.onCommand?.({ device, command, args, start_s: outcome.start_s, end_s: outcome.end_s, breakdown_s: outcome.breakdown_s });
    return outcome;
  }
}
