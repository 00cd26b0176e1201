import type { Microscope } from '../../protocol/microscope.js';
import { findParticles, quantifyFromFrame } from '../analysis/index.js';
import type { PosteriorPool } from '../gp/index.js';
import type { Region } from './regions.js';

/** A particle the policy has found and characterised by EDX: all it knows of the specimen. */
export interface KnownParticle {
  id: number;
  region: string;
  x_m: number;
  y_m: number;
  radius_m: number;
  /** place_beam fractions in the field of its region. */
  fx: number;
  fy: number;
  /** Measured atomic fractions (null when the EDX counts were too few to quantify). */
  composition: Float64Array | null;
  composition_sigma: number;
  /** Per-element variances of the composition (after eqs. 2-3), null with it. */
  composition_variance: Float64Array | null;
  measured: boolean;
}

/** A region the campaign has surveyed, with its particles and their posterior pool. */
export interface SurveyedRegion {
  region: Region;
  particles: KnownParticle[];
  /** Particles with a composition, in pool order. */
  usable: KnownParticle[];
  pool: PosteriorPool | null;
}

export interface SurveyResult {
  particles: KnownParticle[];
  overviewKey: string;
  frameKey: string;
}

/**
 * The per-region workflow of model.md section 2: centre the stage on the region, retune,
 * take a HAADF overview to find particles, and an EDX frame to quantify them.
 */
export async function surveyRegion(ms: Microscope, region: Region, elements: string[], firstId: number, imsize: { overview: number; edx: number }): Promise<SurveyResult> {
  const [x, y] = await ms.getStage();
  if (Math.hypot(x! - region.center_m[0], y! - region.center_m[1]) > 1e-9) await ms.moveStageXY(region.center_m[0], region.center_m[1]);
  await ms.autoFocus();
  await ms.setScan({ imsize: imsize.overview });
  const overviewKey = await ms.acquireScannedImage(['haadf']);
  const found = findParticles(await ms.getData(overviewKey), { elements });
  await ms.setScan({ imsize: imsize.edx });
  const frameKey = await ms.acquireScannedImage(['haadf', 'eds']);
  const compositions = quantifyFromFrame(await ms.getData(frameKey), found, elements);
  const particles = found.map((p, i) => {
    const c = compositions[i] ?? null;
    return {
      id: firstId + i,
      region: region.id,
      x_m: p.x_m,
      y_m: p.y_m,
      radius_m: p.radius_m,
      fx: p.fx,
      fy: p.fy,
      composition: c ? c.fractions : null,
      composition_sigma: c ? c.total_sigma : Infinity,
      composition_variance: c && c.sigma.every(Number.isFinite) ? c.sigma.map((s) => s * s) : null,
      measured: false,
    };
  });
  return { particles, overviewKey, frameKey };
}
