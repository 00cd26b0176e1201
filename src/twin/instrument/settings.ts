import { ATTRIBUTES, findAttribute, type AttributeSpec, type DeviceName } from '../../protocol/commands.js';
import { InstrumentError } from '../../protocol/instrument.js';
import { bool, finiteNumber, inRange, integer, invalid, numberArray, outOfRange, text } from './args.js';
import { planStageMove } from './commands.js';
import type { Plan, PlanContext } from './plan.js';
import type { InstrumentState, ReadoutArea, StagePosition } from './state.js';

/**
 * Device settings (Tango attributes, src/protocol/commands.ts ATTRIBUTES): reads from the
 * snapshot and checked writes. A write costs the round trip; writing a STAGE position attribute
 * moves the stage exactly as move_stage does.
 */

/** The spec of an attribute, or API_AttributeNotFound listing what the device has. */
export function attributeSpec(device: DeviceName, attribute: string, origin: string): AttributeSpec {
  const spec = findAttribute(device, attribute);
  if (spec) return spec;
  const names = ATTRIBUTES.filter((a) => a.device === device).map((a) => a.name);
  const elsewhere = ATTRIBUTES.filter((a) => a.name === attribute).map((a) => a.device);
  const hint = elsewhere.length ? `; "${attribute}" is an attribute of ${elsewhere.join(', ')}` : '';
  throw new InstrumentError(
    'API_AttributeNotFound',
    `device ${device} has no attribute "${attribute}" (its attributes: ${names.join(', ') || 'none the twin serves'})${hint}.`,
    origin,
  );
}

export function readAttributeValue(state: InstrumentState, device: DeviceName, attribute: string, origin: string): unknown {
  attributeSpec(device, attribute, origin);
  const key = `${device}.${attribute}`;
  switch (key) {
    case 'SCAN.dwell_time':
      return state.scan.dwell_time;
    case 'SCAN.imsize':
      return state.scan.imsize;
    case 'SCAN.scan_region':
      return [...state.scan.scan_region];
    case 'SCAN.output_format':
      return state.scan.output_format;
    case 'EDS.exposure_time':
      return state.eds.exposure_time;
    case 'EELS.exposure_time':
      return state.eels.exposure_time;
    case 'EELS.number_of_frames':
      return state.eels.number_of_frames;
    case 'EELS.offset':
      return state.eels.offset;
    case 'STAGE.position':
      return [...state.stage];
    case 'STAGE.x':
      return state.stage[0];
    case 'STAGE.y':
      return state.stage[1];
    case 'STAGE.z':
      return state.stage[2];
    case 'STAGE.alpha':
      return state.stage[3];
    case 'STAGE.beta':
      return state.stage[4];
    case 'STAGE.beta_tilt_enabled':
      return state.beta_tilt_enabled;
    case 'CAMERA.exposure_time':
      return state.camera.exposure_time;
    case 'CAMERA.imsize':
      return state.camera.imsize;
    case 'CAMERA.readout_area':
      return state.camera.readout_area;
    case 'CAMERA.camera_detector':
      return state.camera.camera_detector;
    case 'CAMERA.frame_combining':
      return state.camera.frame_combining;
  }
  throw new Error(`twin: attribute ${key} is in ATTRIBUTES but has no reader`);
}

/** A scalar number within the attribute's declared range. */
function scalar(ctx: PlanContext, spec: AttributeSpec, value: unknown): number {
  const what = `${spec.device}.${spec.name}${spec.unit ? ` (${spec.unit})` : ''}`;
  const v = spec.type === 'int' ? integer(ctx.origin, what, value) : finiteNumber(ctx.origin, what, value);
  return inRange(ctx.origin, `${spec.device}.${spec.name}`, v, spec.min ?? -Infinity, spec.max ?? Infinity, spec.unit);
}

/** A string among the attribute's declared choices. */
function choice<T extends string>(ctx: PlanContext, spec: AttributeSpec, value: unknown): T {
  const v = text(ctx.origin, `${spec.device}.${spec.name}`, value);
  const choices = spec.choices ?? [];
  if (!choices.includes(v)) throw invalid(ctx.origin, `${spec.device}.${spec.name} must be one of ${choices.map((c) => `"${c}"`).join(', ')}, got "${v}"`);
  return v as T;
}

const STAGE_AXES = ['x', 'y', 'z', 'alpha', 'beta'] as const;

export function planAttributeWrite(ctx: PlanContext, device: DeviceName, attribute: string, value: unknown): Plan {
  const spec = attributeSpec(device, attribute, ctx.origin);
  const key = `${device}.${attribute}`;
  const set = (recipe: NonNullable<Plan['recipe']>): Plan => ({ breakdown: {}, recipe });
  switch (key) {
    case 'SCAN.dwell_time': {
      const v = scalar(ctx, spec, value);
      return set((d) => void (d.scan.dwell_time = v));
    }
    case 'SCAN.imsize': {
      const v = scalar(ctx, spec, value);
      return set((d) => void (d.scan.imsize = v));
    }
    case 'SCAN.scan_region': {
      const r = numberArray(ctx.origin, 'scan_region [left, top, width, height]', value, 4) as [number, number, number, number];
      r.forEach((f, i) => inRange(ctx.origin, `scan_region ${['left', 'top', 'width', 'height'][i]}`, f, 0, 1, '(fraction)'));
      if (r[2] <= 0 || r[3] <= 0) throw outOfRange(ctx.origin, `scan_region width and height must be > 0, got ${r[2]} x ${r[3]}`);
      if (r[0] + r[2] > 1 + 1e-12 || r[1] + r[3] > 1 + 1e-12) {
        throw outOfRange(ctx.origin, `scan_region must fit within the relative [0, 1] scan area: left + width = ${r[0] + r[2]}, top + height = ${r[1] + r[3]}`);
      }
      return set((d) => void (d.scan.scan_region = r));
    }
    case 'SCAN.output_format': {
      const v = text(ctx.origin, 'SCAN.output_format', value);
      if (v !== '.h5' && v !== '.tiff') throw invalid(ctx.origin, `output_format must be ".h5" or ".tiff", got "${v}"`);
      return set((d) => void (d.scan.output_format = v));
    }
    case 'EDS.exposure_time': {
      const v = scalar(ctx, spec, value);
      return set((d) => void (d.eds.exposure_time = v));
    }
    case 'EELS.exposure_time': {
      const v = scalar(ctx, spec, value);
      return set((d) => void (d.eels.exposure_time = v));
    }
    case 'EELS.number_of_frames': {
      const v = scalar(ctx, spec, value);
      return set((d) => void (d.eels.number_of_frames = v));
    }
    case 'EELS.offset': {
      const v = scalar(ctx, spec, value);
      return set((d) => void (d.eels.offset = v));
    }
    case 'STAGE.position':
      return planStageMove(ctx, numberArray(ctx.origin, 'STAGE.position [x, y, z, alpha, beta]', value, 5) as StagePosition);
    case 'STAGE.x':
    case 'STAGE.y':
    case 'STAGE.z':
    case 'STAGE.alpha':
    case 'STAGE.beta': {
      // Limits come from the scenario's stage (checkStageLimits), not the generic attribute range.
      const v = finiteNumber(ctx.origin, `${key} (${spec.unit})`, value);
      const to = [...ctx.state.stage] as StagePosition;
      to[STAGE_AXES.indexOf(attribute as (typeof STAGE_AXES)[number])] = v;
      return planStageMove(ctx, to);
    }
    case 'CAMERA.exposure_time': {
      const v = scalar(ctx, spec, value);
      return set((d) => void (d.camera.exposure_time = v));
    }
    case 'CAMERA.imsize': {
      const v = scalar(ctx, spec, value);
      return set((d) => void (d.camera.imsize = v));
    }
    case 'CAMERA.frame_combining': {
      const v = scalar(ctx, spec, value);
      return set((d) => void (d.camera.frame_combining = v));
    }
    case 'CAMERA.readout_area': {
      const v = choice<ReadoutArea>(ctx, spec, value);
      return set((d) => void (d.camera.readout_area = v));
    }
    case 'CAMERA.camera_detector': {
      const v = choice(ctx, spec, value);
      return set((d) => void (d.camera.camera_detector = v));
    }
    case 'STAGE.beta_tilt_enabled': {
      const v = bool(ctx.origin, key, value);
      if (!v && ctx.state.stage[4] !== 0) throw outOfRange(ctx.origin, `the stage is at beta = ${ctx.state.stage[4]} deg; tilt beta back to 0 before disabling the beta axis`);
      return set((d) => void (d.beta_tilt_enabled = v));
    }
  }
  throw new Error(`twin: attribute ${key} is in ATTRIBUTES but has no writer`);
}
