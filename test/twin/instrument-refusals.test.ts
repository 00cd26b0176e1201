import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { COMMANDS, type DeviceName } from '../../src/protocol/commands.js';
import { InstrumentError } from '../../src/protocol/instrument.js';
import { createTwin } from '../../src/twin/index.js';
import { smallScenario } from './instrument-fixtures.js';

/**
 * Random bad requests: every one is refused with a named reason and a description, costs only
 * the round trip, and leaves the state snapshot identical (the very same frozen object).
 */

type Bad = { kind: 'command'; device?: DeviceName; command: string; args?: unknown } | { kind: 'attribute'; device: DeviceName; attribute: string; value: unknown };

const notNumber = fc.oneof(fc.constant(NaN), fc.constant(Infinity), fc.constant(-Infinity), fc.string(), fc.constant(null), fc.boolean());
const wrongLength = (n: number) => fc.array(fc.double({ min: -1e-5, max: 1e-5, noNaN: true }), { maxLength: 7 }).filter((a) => a.length !== n);
const withBadEntry = (n: number) => fc.tuple(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }), fc.nat(n - 1), notNumber).map(([a, i, v]) => a.map((x, j) => (j === i ? v : x)));
const beyond = (limit: number) => fc.double({ min: limit * 1.001, max: limit * 100, noNaN: true }).chain((v) => fc.constantFrom(v, -v));
const outsideFraction = fc.oneof(fc.double({ min: 1.0001, max: 10, noNaN: true }), fc.double({ min: -10, max: -0.0001, noNaN: true }));
const knownNames = new Set(COMMANDS.map((c) => c.name));

const badRequest: fc.Arbitrary<Bad> = fc.oneof(
  // stage
  fc.oneof(wrongLength(5), withBadEntry(5)).map((args) => ({ kind: 'command' as const, command: 'move_stage', args })),
  fc.tuple(fc.nat(4), fc.double({ min: 1.001, max: 50, noNaN: true })).map(([axis, f]) => {
    const limits = [1000e-6, 1000e-6, 300e-6, 35, 20];
    const to = [0, 0, 0, 0, 0];
    to[axis] = limits[axis]! * f;
    return { kind: 'command' as const, command: 'move_stage', args: to };
  }),
  fc.double({ min: 0.1, max: 20, noNaN: true }).map((beta) => ({ kind: 'command' as const, command: 'move_stage', args: [0, 0, 0, 0, beta] })),
  // beam
  fc.oneof(wrongLength(2), withBadEntry(2), fc.tuple(outsideFraction, fc.double({ min: 0, max: 1, noNaN: true }))).map((args) => ({ kind: 'command' as const, command: 'place_beam', args })),
  fc.array(outsideFraction, { minLength: 2, maxLength: 6 }).map((args) => ({ kind: 'command' as const, command: 'place_beam_list', args: args.length % 2 ? args.slice(1) : args })),
  fc.tuple(beyond(15.0001e-6), fc.double({ min: -1e-5, max: 1e-5, noNaN: true })).map((args) => ({ kind: 'command' as const, command: 'set_image_shift', args })),
  fc.oneof(beyond(0.1), notNumber).map((v) => ({ kind: 'command' as const, command: 'set_beam_tilt', args: [v, 0] })),
  fc.oneof(fc.double({ min: -1, max: 0, noNaN: true }), notNumber).map((args) => ({ kind: 'command' as const, command: 'set_fov', args })),
  fc.oneof(beyond(100e-6), notNumber).map((args) => ({ kind: 'command' as const, command: 'set_defocus', args })),
  fc.oneof(fc.double({ min: -100, max: 0, noNaN: true }), notNumber).map((args) => ({ kind: 'command' as const, command: 'set_screen_current', args })),
  // acquisitions and switches
  fc.string().filter((s) => !['haadf', 'eds'].includes(s.toLowerCase())).map((d) => ({ kind: 'command' as const, command: 'acquire_scanned_image', args: [d] })),
  fc.string().filter((s) => s.toLowerCase() !== 'eds').map((d) => ({ kind: 'command' as const, command: 'acquire_spectrum', args: d })),
  fc.string().filter((s) => s !== 'open' && s !== 'close').map((v) => ({ kind: 'command' as const, command: 'set_column_valves', args: v })),
  fc.constantFrom('get_stage', 'auto_focus', 'blank_beam', 'Disconnect', 'get_parameters').chain((command) =>
    fc.oneof(fc.integer(), fc.string(), fc.array(fc.integer(), { minLength: 1 })).map((args) => ({ kind: 'command' as const, command, args })),
  ),
  fc.oneof(fc.integer({ min: 6, max: 100 }), fc.integer({ min: -100, max: -1 }), fc.double({ min: 0.1, max: 0.9, noNaN: true })).map((args) => ({
    kind: 'command' as const,
    device: 'EELS' as const,
    command: 'set_eels_dispersion',
    args,
  })),
  fc.integer({ min: 3, max: 100 }).map((args) => ({ kind: 'command' as const, device: 'EELS' as const, command: 'set_eels_aperture', args })),
  // names that do not exist
  fc.string().filter((s) => !knownNames.has(s)).map((command) => ({ kind: 'command' as const, command })),
  fc.string().filter((s) => !['dwell_time', 'imsize', 'scan_region', 'output_format'].includes(s)).map((attribute) => ({ kind: 'attribute' as const, device: 'SCAN' as const, attribute, value: 1 })),
  // settings out of range or of the wrong type
  fc.oneof(fc.double({ min: 10.001, max: 1e6, noNaN: true }), fc.double({ min: -1, max: 1e-10, noNaN: true }), notNumber).map((value) => ({ kind: 'attribute' as const, device: 'SCAN' as const, attribute: 'dwell_time', value })),
  fc.oneof(fc.integer({ min: -10, max: 15 }), fc.integer({ min: 4097, max: 1e6 }), fc.double({ min: 16.1, max: 16.9, noNaN: true })).map((value) => ({ kind: 'attribute' as const, device: 'SCAN' as const, attribute: 'imsize', value })),
  fc.tuple(fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 0.01, max: 1, noNaN: true })).filter(([l, w]) => l + w > 1.001).map(([l, w]) => ({
    kind: 'attribute' as const,
    device: 'SCAN' as const,
    attribute: 'scan_region',
    value: [l, 0, w, 0.5],
  })),
  fc.oneof(fc.double({ min: 100.001, max: 1e6, noNaN: true }), fc.double({ min: -10, max: 0, noNaN: true })).map((value) => ({ kind: 'attribute' as const, device: 'EDS' as const, attribute: 'exposure_time', value })),
  fc.oneof(fc.integer({ min: 6, max: 100 }), fc.integer({ min: -5, max: 0 })).map((value) => ({ kind: 'attribute' as const, device: 'EELS' as const, attribute: 'number_of_frames', value })),
  fc.double({ min: 5.001, max: 1e3, noNaN: true }).map((value) => ({ kind: 'attribute' as const, device: 'EELS' as const, attribute: 'exposure_time', value })),
  fc.oneof(beyond(1000e-6), notNumber).map((value) => ({ kind: 'attribute' as const, device: 'STAGE' as const, attribute: 'y', value })),
);

describe('refused requests', () => {
  const t = createTwin(smallScenario());

  test.prop([badRequest], { numRuns: 300 })('are refused with a reason and a description, cost one round trip, and change nothing', async (bad) => {
    const before = t.twin.state;
    const t0 = t.twin.now_s();
    let error: unknown;
    try {
      if (bad.kind === 'command') await t.instrument.execute({ device: bad.device, command: bad.command, args: bad.args });
      else await t.instrument.writeAttribute({ device: bad.device, attribute: bad.attribute, value: bad.value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InstrumentError);
    const e = error as InstrumentError;
    expect(e.reason).toMatch(/^(API_InvalidArgument|API_CommandNotFound|API_AttributeNotFound|OutOfRange|BeamShiftRange|UnknownDetector)$/);
    expect(e.description.length).toBeGreaterThan(15);
    expect(t.twin.state).toBe(before);
    const spent = t.twin.now_s() - t0;
    expect(spent).toBeGreaterThanOrEqual(0.01 - 1e-12);
    expect(spent).toBeLessThan(0.03 + 1e-12);
  });

  test.prop([fc.constantFrom<[string, unknown, DeviceName?]>(['acquire_scanned_image', ['haadf']], ['acquire_spectrum', 'eds'], ['acquire_camera_image', undefined], ['auto_focus', undefined], ['acquire_eels_spectrum', undefined, 'EELS']), fc.boolean()], { numRuns: 20 })(
    'acquisitions are refused while the beam is blanked or the valves are closed',
    async ([command, args, device], blank) => {
      const b = createTwin(smallScenario());
      await b.instrument.execute(blank ? { command: 'blank_beam' } : { command: 'set_column_valves', args: 'close' });
      const before = b.twin.state;
      const keys = b.twin.data.size;
      await expect(b.instrument.execute({ command, args, device })).rejects.toMatchObject({ reason: blank ? 'BeamBlanked' : 'ColumnValvesClosed' });
      expect(b.twin.state).toBe(before);
      expect(b.twin.data.size).toBe(keys);
    },
  );
});
