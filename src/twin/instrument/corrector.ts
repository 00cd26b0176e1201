import type { Draft } from 'immer';
import { tangoClass, tangoDeviceName } from '../../protocol/commands.js';
import { InstrumentError, shown } from '../../protocol/instrument.js';
import { ABERRATION_NAMES, ABERRATIONS, aberrationSpec, defaultAberrations, isTuned, TUNED_RESIDUAL_m, type AberrationName, type Aberrations } from './aberrations.js';
import { invalid, noArgument, text } from './args.js';
import { read, requireBeam, type CommandHandler } from './handler-kit.js';
import { LatencyModel } from './latency.js';
import type { Plan, PlanContext } from './plan.js';
import type { InstrumentState } from './state.js';

/**
 * The corrector device (Tango class DigitalTwinCorrector; a CEOS corrector on real hardware,
 * reached over netstring JSON-RPC 2.0). Its measuring commands answer with the JSON-RPC reply
 * text, {"jsonrpc": "2.0", "id": n, "result": {...}}, n counting the replies since it
 * (re)connected (kept in the state, so a seeded run numbers them identically). The coefficients
 * it measures and corrects are the twin's aberrations (aberrations.ts): C1/A1 drift with stage
 * moves, and a correction or auto_focus that brings both below TUNED_RESIDUAL_m retunes the probe.
 */

type TableauType = keyof typeof LatencyModel.TABLEAU_s;
const TABLEAU_TYPES = Object.keys(LatencyModel.TABLEAU_s) as TableauType[];
/** Largest tilt of a tableau's Ronchigram series, mrad (a probe-forming aperture of ~30 mrad; tilts beyond are outside the corrector's calibration). */
export const TABLEAU_MAX_ANGLE_mrad = 50;

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

function copy(a: Aberrations): Aberrations {
  return Object.fromEntries(ABERRATION_NAMES.map((n) => [n, [...a[n]]])) as Aberrations;
}

/** The tuned flag follows the residual C1/A1; when it flips, tuning_changed_s records when. */
export function setAberrations(d: Draft<InstrumentState>, next: Aberrations, end_s: number): void {
  d.aberrations = copy(next);
  const tuned = isTuned(next);
  if (tuned !== d.tuned) {
    d.tuned = tuned;
    d.tuning_changed_s = end_s;
  }
}

/** A JSON-RPC reply with the next id; the recipe counts it (and applies `also`). */
function reply(ctx: PlanContext, breakdown: Plan['breakdown'], result: unknown, also?: Plan['recipe']): Plan {
  const id = ctx.state.corrector_reply_id + 1;
  return {
    breakdown,
    value: JSON.stringify({ jsonrpc: '2.0', id, result }),
    recipe: (d, end_s) => {
      d.corrector_reply_id = id;
      also?.(d, end_s);
    },
  };
}

function words(ctx: PlanContext, what: string, args: unknown): string[] {
  const w = text(ctx.origin, what, args).trim().split(/\s+/).filter(Boolean);
  if (w.length === 0) throw invalid(ctx.origin, `${what} is empty`);
  return w;
}

function knownName(ctx: PlanContext, name: string): (typeof ABERRATIONS)[number] {
  const spec = aberrationSpec(name);
  if (!spec) throw new InstrumentError('UnknownAberration', `no aberration "${name}"; the corrector knows ${ABERRATION_NAMES.join(', ')}`, ctx.origin);
  return spec;
}

function valuesOf(ctx: PlanContext, spec: (typeof ABERRATIONS)[number], v: unknown, where: string): number[] {
  const list = typeof v === 'number' && spec.values === 1 ? [v] : v;
  if (!Array.isArray(list) || list.length !== spec.values || !list.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw invalid(ctx.origin, `${where}: ${spec.name} (${spec.description}) takes ${spec.values === 1 ? '1 value' : `${spec.values} values [x, y]`} in m, got ${shown(v)}`);
  }
  return [...list];
}

export const CORRECTOR: Record<string, CommandHandler> = {
  get_info: (ctx, args) => {
    noArgument(ctx.origin, args);
    return reply(ctx, {}, {
      name: tangoClass('CORRECTOR'),
      device: tangoDeviceName('CORRECTOR'),
      vendor: 'CEOS (simulated)',
      aberrations: [...ABERRATION_NAMES],
      tableau_types: TABLEAU_TYPES,
      tuned_residual_m: TUNED_RESIDUAL_m,
    });
  },

  acquire_tableau: (ctx, args) => {
    const w = words(ctx, 'tableau "<type> <angle mrad>"', args);
    const type = TABLEAU_TYPES.find((t) => t.toLowerCase() === w[0]!.toLowerCase());
    if (!type) throw invalid(ctx.origin, `tableau type "${w[0]}" unknown; types: ${TABLEAU_TYPES.join(', ')} (e.g. "Fast 18")`);
    if (w.length !== 2 || !NUMBER.test(w[1]!)) throw invalid(ctx.origin, `a tableau takes "<type> <angle mrad>", e.g. "Fast 18", got ${shown(args)}`);
    const angle_mrad = Number(w[1]);
    if (!(angle_mrad > 0 && angle_mrad <= TABLEAU_MAX_ANGLE_mrad)) {
      throw new InstrumentError('OutOfRange', `tableau angle must be within (0, ${TABLEAU_MAX_ANGLE_mrad}] mrad, got ${angle_mrad}`, ctx.origin);
    }
    requireBeam(ctx);
    return reply(ctx, ctx.latency.tableau(type), { type, angle_mrad, aberrations: copy(ctx.state.aberrations) });
  },

  measure_c1a1: (ctx, args) => {
    noArgument(ctx.origin, args);
    requireBeam(ctx);
    const a = ctx.state.aberrations;
    return reply(ctx, ctx.latency.measureC1A1(), { C1: [...a.C1], A1: [...a.A1] });
  },

  correct_aberration: (ctx, args) => {
    const w = words(ctx, 'correction "<name> <value> [value]"', args);
    const spec = knownName(ctx, w[0]!);
    const given = w.slice(1);
    if (given.length !== spec.values || !given.every((x) => NUMBER.test(x))) {
      throw invalid(ctx.origin, `correction of ${spec.name} (${spec.description}) takes "${spec.name} ${spec.values === 1 ? '<value>' : '<x> <y>'}" in m, got ${shown(args)}`);
    }
    const by = given.map(Number);
    const next = copy(ctx.state.aberrations);
    next[spec.name as AberrationName] = next[spec.name as AberrationName].map((v, i) => v - by[i]!);
    return reply(ctx, ctx.latency.correction(), { name: spec.name, value: next[spec.name as AberrationName] }, (d, end_s) => setAberrations(d, next, end_s));
  },

  get_aberrations_coeff_sim: read((s) => JSON.stringify(copy(s.aberrations))),

  set_aberrations_coeff_sim: (ctx, args) => {
    const raw = text(ctx.origin, 'aberrations JSON', args);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (e) {
      throw invalid(ctx.origin, `aberrations must be a JSON object {name: [values in m]}: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid(ctx.origin, `aberrations must be a JSON object {name: [values in m]}, got ${shown(parsed)}`);
    const next = defaultAberrations();
    for (const [name, v] of Object.entries(parsed)) {
      const spec = knownName(ctx, name);
      next[spec.name as AberrationName] = valuesOf(ctx, spec, v, 'aberrations JSON');
    }
    return { breakdown: {}, recipe: (d, end_s) => setAberrations(d, next, end_s) };
  },

  reconnect: (ctx, args) => {
    noArgument(ctx.origin, args);
    // A new JSON-RPC session numbers its replies from 1 again.
    return { breakdown: ctx.latency.correctorReconnect(), recipe: (d) => void (d.corrector_reply_id = 0) };
  },
};
