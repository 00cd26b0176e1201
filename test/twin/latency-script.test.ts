import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { Rng } from '../../src/protocol/random.js';
import { emptyBreakdown, LATENCY_CATEGORIES, type Breakdown } from '../../src/protocol/timing.js';
import { runScript } from '../../src/server/cli/script.js';
import { LatencyModel } from '../../src/twin/instrument/latency.js';
import { smallScenario } from './instrument-fixtures.js';

/**
 * The twin's clock against the latency model: for random scripts, the time the script takes,
 * per category and in total, equals the sum of the LatencyModel terms of the same commands
 * (one round trip drawn per command, refused ones included), replayed here independently.
 */

type Step =
  | { op: 'move'; to: [number, number, number, number, number] }
  | { op: 'place'; f: [number, number] }
  | { op: 'shift'; s: [number, number] }
  | { op: 'focus' }
  | { op: 'scan'; dwell: number; imsize: number }
  | { op: 'edx-frame' }
  | { op: 'edx-point'; live: number }
  | { op: 'eels'; exposure: number; frames: number }
  | { op: 'read' };

const um = 1e-6;
/** Uniform on [lo, hi] (fc.double spreads over the representable doubles, mostly tiny ones). */
const uniform = (lo: number, hi: number) => fc.integer({ min: 0, max: 1_000_000_000 }).map((i) => lo + ((hi - lo) * i) / 1_000_000_000);
const step: fc.Arbitrary<Step> = fc.oneof(
  fc
    .tuple(uniform(-1200, 1200), uniform(-1200, 1200), uniform(-5, 5))
    .map(([x, y, z]) => ({ op: 'move' as const, to: [x * um, y * um, z * um, 0, 0] as [number, number, number, number, number] })),
  fc.tuple(uniform(-0.2, 1.2), uniform(-0.2, 1.2)).map((f) => ({ op: 'place' as const, f })),
  fc.tuple(uniform(-20, 20), uniform(-20, 20)).map(([x, y]) => ({ op: 'shift' as const, s: [x * um, y * um] as [number, number] })),
  fc.constant({ op: 'focus' as const }),
  fc.tuple(uniform(1e-8, 2e-5), fc.integer({ min: 16, max: 48 })).map(([dwell, imsize]) => ({ op: 'scan' as const, dwell, imsize })),
  fc.constant({ op: 'edx-frame' as const }),
  uniform(1e-3, 5).map((live) => ({ op: 'edx-point' as const, live })),
  fc.tuple(uniform(1e-3, 5), fc.integer({ min: 1, max: 5 })).map(([exposure, frames]) => ({ op: 'eels' as const, exposure, frames })),
  fc.constant({ op: 'read' as const }),
);

/** The step as script lines (settings first, as a client would send them). */
function lines(s: Step): object[] {
  switch (s.op) {
    case 'move':
      return [{ command: 'move_stage', args: s.to }];
    case 'place':
      return [{ command: 'place_beam', args: s.f }];
    case 'shift':
      return [{ command: 'set_image_shift', args: s.s }];
    case 'focus':
      return [{ command: 'auto_focus' }];
    case 'scan':
      return [
        { device: 'SCAN', attribute: 'dwell_time', value: s.dwell },
        { device: 'SCAN', attribute: 'imsize', value: s.imsize },
        { command: 'acquire_scanned_image', args: ['haadf'] },
      ];
    case 'edx-frame':
      return [{ command: 'acquire_scanned_image', args: ['haadf', 'eds'] }];
    case 'edx-point':
      return [{ device: 'EDS', attribute: 'exposure_time', value: s.live }, { command: 'acquire_spectrum', args: 'eds' }];
    case 'eels':
      return [
        { device: 'EELS', attribute: 'exposure_time', value: s.exposure },
        { device: 'EELS', attribute: 'number_of_frames', value: s.frames },
        { device: 'EELS', command: 'acquire_eels_spectrum' },
      ];
    case 'read':
      return [{ command: 'get_stage' }];
  }
}

/** What the model says the steps cost: its own terms plus one round trip per script line. */
function expectedTotals(steps: Step[], seed: number, model: LatencyModel): Record<string, number> {
  const totals = emptyBreakdown();
  const add = (b: Breakdown) => LATENCY_CATEGORIES.forEach((c) => (totals[c] += b[c] ?? 0));
  const overhead = new Rng(seed).fork('overhead');
  const half = model.beamShiftHalfRange_m * (1 + 1e-9);
  const fov = model.spec.fov_um * um;
  let stage = [0, 0, 0, 0, 0];
  let shift = [0, 0];
  const limit = model.spec.stage_limits.xy_um * um;
  // Command arguments arrive as Tango DevVarFloatArray: through float32, as on the real server.
  const f32 = <T extends number[]>(v: T): T => v.map(Math.fround) as T;
  for (const s of steps) {
    for (let i = 0; i < lines(s).length; i++) add({ control_overhead: model.drawOverhead_s(overhead) });
    switch (s.op) {
      case 'move': {
        const to = f32(s.to);
        if (Math.abs(to[0]) <= limit && Math.abs(to[1]) <= limit) {
          add(model.stageMove(stage, to));
          stage = to;
        }
        break;
      }
      case 'place': {
        const at = f32(s.f);
        const inField = at.every((f) => f >= 0 && f <= 1);
        const reach = at.every((f, i) => Math.abs(shift[i]! + (f - 0.5) * fov) <= half);
        if (inField && reach) add(model.beamShift(1));
        break;
      }
      case 'shift': {
        const to = f32(s.s);
        if (to.every((v) => Math.abs(v) <= half)) {
          add(model.beamShift(1));
          shift = to;
        }
        break;
      }
      case 'focus':
        add(model.autoFocus());
        break;
      case 'scan':
        add(model.haadfScan(s.imsize * s.imsize, s.dwell));
        break;
      case 'edx-frame':
        add(model.edxFrame());
        break;
      case 'edx-point':
        add(model.edxPoint(s.live));
        break;
      case 'eels':
        add(model.eels(s.exposure, s.frames));
        break;
      case 'read':
        break;
    }
  }
  return totals;
}

describe('script time = sum of the latency model terms', () => {
  const scenario = smallScenario();
  const model = new LatencyModel(scenario.instrument);

  test.prop([fc.array(step, { minLength: 1, maxLength: 10 }), fc.integer({ min: 0, max: 1000 })], { numRuns: 20 })('per category and in total', async (steps, seed) => {
    const text = steps.flatMap(lines).map((l) => JSON.stringify(l)).join('\n');
    const result = await runScript(text, scenario, seed);
    expect(result.error).toBeUndefined();
    const expected = expectedTotals(steps, seed, model);
    for (const c of LATENCY_CATEGORIES) expect(Math.abs(result.totals_s[c] - expected[c]!)).toBeLessThan(1e-9);
    const expectedTotal = LATENCY_CATEGORIES.reduce((s, c) => s + expected[c]!, 0);
    expect(Math.abs(result.total_s - expectedTotal)).toBeLessThan(1e-9);
    // The clock agrees: commands run back to back from 0, each breakdown summing exactly to its span.
    let t = 0;
    for (const e of result.commands) {
      expect(e.start_s).toBeCloseTo(t, 9);
      const span = LATENCY_CATEGORIES.reduce((s, c) => s + (e.breakdown_s[c] ?? 0), 0);
      expect(span).toBe(e.end_s - e.start_s);
      t = e.end_s;
    }
    expect(Math.abs(t - result.total_s)).toBeLessThan(1e-9);
  });
});
