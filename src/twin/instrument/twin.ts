import { Resource, type Simulation, type TelemetryBus } from '../../events/index.js';
import { DEVICES, tangoClass, type DeviceName } from '../../protocol/commands.js';
import type { ClockPacing, TwinEndpoint } from '../../protocol/in-process.js';
import { InstrumentError, type AttributeWrite, type CommandOutcome, type CommandRequest, type DataRecord } from '../../protocol/instrument.js';
import type { Rng } from '../../protocol/random.js';
import { asTango } from '../../protocol/tango-types.js';
import type { InstrumentSpec } from '../../protocol/scenario.js';
import type { Breakdown } from '../../protocol/timing.js';
import type { Specimen } from '../types.js';
import { AberrationDrift } from './aberrations.js';
import { Acquisitions } from './acquisition.js';
import { commandHandler } from './commands.js';
import { DataStore } from './data-store.js';
import { ImageCache } from './image-cache.js';
import { breakdownTotal_s, LatencyModel } from './latency.js';
import type { Plan, PlanContext } from './plan.js';
import { planAttributeWrite, readAttributeValue } from './settings.js';
import { isTangoBuiltin } from './tango-builtins.js';
import { initialState, transition, type InstrumentState, type Recipe } from './state.js';
import type { InstrumentTelemetry } from './telemetry.js';

export interface InstrumentTwinOptions {
  sim: Simulation;
  spec: InstrumentSpec;
  specimen: Specimen;
  /** The scenario's Rng; the twin forks 'overhead' (round trips), 'signals' (acquisition noise) and 'aberrations' (C1/A1 drift of stage moves) from it. */
  rng: Rng;
  telemetry: TelemetryBus<InstrumentTelemetry>;
}

/**
 * The microscope on the virtual clock. Every command and attribute write runs as a process that
 * holds the one beam (Resource 'instrument', FIFO) for its whole duration:
 *
 *   acquire the beam -> draw the round trip -> plan from the snapshot (or refuse) ->
 *   wait round trip + the plan's terms -> apply the state change, store the acquisition -> release.
 *
 * A refused command (InstrumentError) still costs its round trip on the clock, as on the real
 * server, and leaves the snapshot unchanged. Attribute reads and data reads are served from the
 * committed snapshot and store at once, without the beam and without clock time.
 */
export class InstrumentTwin implements TwinEndpoint {
  readonly latency: LatencyModel;
  readonly data = new DataStore();
  /** The beam: one command at a time; `beam.holder` names the running command. */
  readonly beam: Resource;
  readonly telemetry: TelemetryBus<InstrumentTelemetry>;
  private readonly sim: Simulation;
  private readonly spec: InstrumentSpec;
  private readonly overheadRng: Rng;
  private readonly acquisitions: Acquisitions;
  private readonly drift: AberrationDrift;
  private readonly images = new ImageCache();
  private snapshot: InstrumentState;
  private seq = 0;

  constructor(options: InstrumentTwinOptions) {
    this.sim = options.sim;
    this.spec = options.spec;
    this.telemetry = options.telemetry;
    this.latency = new LatencyModel(options.spec);
    this.beam = new Resource(options.sim, 'instrument');
    this.overheadRng = options.rng.fork('overhead');
    this.acquisitions = new Acquisitions(options.specimen, options.spec, options.rng.fork('signals'));
    this.drift = new AberrationDrift(options.rng.fork('aberrations'));
    this.snapshot = initialState(options.spec);
  }

  /** The committed state snapshot (frozen). */
  get state(): InstrumentState {
    return this.snapshot;
  }

  now_s(): number {
    return this.sim.now;
  }

  runUntilSettled<T>(p: Promise<T>, pacing?: ClockPacing): Promise<T> {
    return this.sim.runUntilSettled(p, pacing);
  }

  execute(request: CommandRequest, client?: string): Promise<CommandOutcome> {
    const device = request.device ?? 'instrument';
    const command = String(request.command);
    const origin = `${tangoClass(device)}.${command}`;
    return this.run(device, command, request.args, origin, client, (ctx) => {
      checkDevice(device, origin);
      if (typeof request.command !== 'string') throw new InstrumentError('API_InvalidArgument', `the command name must be a string, got ${JSON.stringify(request.command)}`, origin);
      const { spec, handler } = commandHandler(device, command, origin);
      const plan = handler(ctx, asTango(spec.input, request.args, origin));
      return plan.value === undefined ? plan : { ...plan, value: asTango(spec.output, plan.value, origin, 'the result') };
    });
  }

  async writeAttribute(write: AttributeWrite, client?: string): Promise<CommandOutcome<null>> {
    const origin = `${write.device}.${write.attribute}`;
    const outcome = await this.run(write.device, 'write_attribute', { attribute: write.attribute, value: write.value }, origin, client, (ctx) => {
      checkDevice(write.device, origin);
      return planAttributeWrite(ctx, write.device, write.attribute, write.value);
    });
    return { ...outcome, value: null };
  }

  readAttribute(device: DeviceName, attribute: string): unknown {
    const origin = `${device}.${attribute}`;
    checkDevice(device, origin);
    return readAttributeValue(this.snapshot, device, attribute, origin);
  }

  getData(key: string): DataRecord {
    return this.data.get(key);
  }

  /** Puts the device into FAULT (a failure drill): every command is refused until clearFault(). An OFF device stays OFF. */
  fault(description: string): void {
    if (this.snapshot.device === 'OFF') return;
    this.commit(this.sim.now, (d) => {
      d.device = 'FAULT';
      d.fault = description;
    });
  }

  /** Clears a FAULT (a session already Disconnected stays OFF). */
  clearFault(): void {
    if (this.snapshot.device !== 'FAULT') return;
    this.commit(this.sim.now, (d) => {
      d.device = 'ON';
      d.fault = '';
    });
  }

  private run(device: DeviceName, command: string, args: unknown, origin: string, client: string | undefined, planner: (ctx: PlanContext) => Plan): Promise<CommandOutcome> {
    return this.sim.process(async () => {
      const release = await this.beam.acquire(client ? `${client}: ${origin}` : origin);
      try {
        const seq = ++this.seq;
        const start_s = this.sim.now;
        this.emit({ type: 'command-start', seq, t_s: start_s, device, command, args: plainArgs(args), ...(client === undefined ? {} : { client }) });
        const overhead_s = this.latency.drawOverhead_s(this.overheadRng);
        let plan: Plan;
        try {
          this.checkDeviceState(device, command, origin);
          plan = planner(this.context(origin));
        } catch (e) {
          const breakdown_s: Breakdown = { control_overhead: overhead_s };
          await this.sim.timeout(overhead_s);
          absorbRounding(breakdown_s, this.sim.now - start_s);
          this.emitEnd(seq, start_s, breakdown_s, e);
          throw e;
        }
        const breakdown_s: Breakdown = { ...plan.breakdown, control_overhead: (plan.breakdown.control_overhead ?? 0) + overhead_s };
        await this.sim.timeout(breakdownTotal_s(breakdown_s));
        const end_s = this.sim.now;
        absorbRounding(breakdown_s, end_s - start_s);
        let value: unknown = plan.value ?? null;
        try {
          if (plan.recipe) this.commit(end_s, (d) => plan.recipe!(d, end_s));
          if (plan.acquisition) {
            const a = plan.acquisition;
            const { attrs, datasets } = a.render(end_s);
            value = this.data.put(a.prefix, a.extension, end_s, attrs, datasets);
            this.images.add(datasets);
            this.emit({ type: 'acquisition', t_s: end_s, key: value as string, kind: a.kind });
          }
        } catch (e) {
          this.emitEnd(seq, start_s, breakdown_s, e);
          throw e;
        }
        this.emitEnd(seq, start_s, breakdown_s);
        return { value, start_s, end_s, breakdown_s };
      } finally {
        release();
      }
    });
  }

  private context(origin: string): PlanContext {
    return { state: this.snapshot, spec: this.spec, latency: this.latency, acquisitions: this.acquisitions, drift: this.drift, images: this.images, origin };
  }

  /** OFF accepts only Connect, FAULT nothing; Tango's State and Status are always answered. */
  private checkDeviceState(device: DeviceName, command: string, origin: string): void {
    const s = this.snapshot;
    if (isTangoBuiltin(command)) return;
    if (s.device === 'OFF' && !(device === 'instrument' && command === 'Connect')) {
      throw new InstrumentError('DeviceOff', 'the instrument is OFF after Disconnect; send DigitalTwin.Connect to turn it ON again.', origin);
    }
    if (s.device === 'FAULT') throw new InstrumentError('DeviceFault', `the instrument is in FAULT (${s.fault}); commands are refused until the fault is cleared.`, origin);
  }

  private commit(t_s: number, recipe: Recipe): void {
    const { state, patches } = transition(this.snapshot, recipe);
    this.snapshot = state;
    if (patches.length) this.emit({ type: 'state', t_s, patches });
  }

  private emitEnd(seq: number, start_s: number, breakdown_s: Breakdown, error?: unknown): void {
    const end_s = this.sim.now;
    const base = { type: 'command-end' as const, seq, t_s: end_s, start_s, end_s, breakdown_s, ok: error === undefined };
    if (error === undefined) this.emit(base);
    else {
      // A refusal costs instrument time too; the error carries it to the reply.
      if (error instanceof InstrumentError) error.timing = { start_s, end_s, breakdown_s };
      const e = error instanceof InstrumentError ? error.toJSON() : { reason: 'InternalError', description: String((error as Error)?.message ?? error), origin: '' };
      this.emit({ ...base, error: e });
    }
  }

  private emit(record: InstrumentTelemetry): void {
    this.telemetry.emit(record);
  }
}

function checkDevice(device: unknown, origin: string): void {
  if (!(DEVICES as readonly unknown[]).includes(device)) {
    throw new InstrumentError('API_DeviceNotFound', `no device "${String(device)}"; devices: ${DEVICES.join(', ')}.`, origin);
  }
}

/**
 * The clock adds the command's total to its start time, which rounds; the rounding (an ulp or
 * so) goes into the round trip, so that the parts sum, in category order, to end - start exactly.
 * control_overhead is the last term of that sum, so span - (the others) is nearly always exact;
 * a few one-ulp steps settle the rest. (With a zero round trip it may end an ulp below zero.)
 */
function absorbRounding(b: Breakdown, span_s: number): void {
  if (breakdownTotal_s(b) === span_s) return;
  let overhead_s = span_s - breakdownTotal_s({ ...b, control_overhead: 0 });
  for (let i = 0; i < 8; i++) {
    b.control_overhead = overhead_s;
    const total_s = breakdownTotal_s(b);
    if (total_s === span_s) return;
    overhead_s = nextDouble(overhead_s, total_s < span_s);
  }
}

const bits = new DataView(new ArrayBuffer(8));

/** The adjacent double above (up) or below x. */
function nextDouble(x: number, up: boolean): number {
  if (x === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
  bits.setFloat64(0, x);
  bits.setBigInt64(0, bits.getBigInt64(0) + ((x > 0) === up ? 1n : -1n));
  return bits.getFloat64(0);
}

/** Arguments as plain JSON values for telemetry (typed arrays become arrays). */
function plainArgs(args: unknown): unknown {
  return ArrayBuffer.isView(args) && !(args instanceof DataView) ? Array.from(args as unknown as ArrayLike<number>) : args;
}
