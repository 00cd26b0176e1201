import type { CampaignRecord } from '../../policy/campaign/record.js';
import { LATENCY_CATEGORIES } from '../../protocol/timing.js';
import { Axes, esc, extent, ramp, ternaryXY } from './svg.js';

/**
 * The campaign report: one self-contained HTML page with the paper's panels (Figure 3):
 * (a) real-space trajectory with the stage path, (b) composition trajectory on the simplex,
 * (c) mean predictive uncertainty and (d) absolute error per iteration with region changes
 * dashed, (e) share measured per region; plus the time breakdown.
 */
export function renderReport(record: CampaignRecord): string {
  const s = record.summary;
  const panels = [realSpace(record), compositions(record), perIteration(record, 'mean_sd'), perIteration(record, 'mean_abs_error'), shares(record), breakdown(record)];
  const rows = LATENCY_CATEGORIES.map((c) => `<tr><td>${c.replace('_', ' ')}</td><td>${s.breakdown_s[c].toFixed(1)}</td><td>${pct(s.breakdown_s[c], s.wall_clock_s)}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stem-twin: ${esc(s.scenario)} (${esc(s.policy)}, seed ${s.seed})</title>
<style>
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1400px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 16px; }
figure { margin: 0; border: 1px solid #ddd; padding: 8px; }
figcaption { font-size: 12px; color: #555; }
table { border-collapse: collapse; margin: 8px 0 16px; } td, th { padding: 2px 10px; text-align: right; } td:first-child, th:first-child { text-align: left; }
</style></head><body>
<h1>${esc(s.scenario)}: ${esc(s.policy)} policy, seed ${s.seed}</h1>
<p>${s.iterations} BO iterations after ${s.seed_particles} seed particles in <b>${hms(s.wall_clock_s)}</b> of ${s.instrument.includes('twin') ? 'simulated ' : ''}instrument time on ${esc(s.instrument)};
${s.regions_visited} regions visited, ${s.switches} switches (${s.switches_to_neighbour} to a neighbouring region); ${s.particles_measured} of ${s.particles_found} particles found were measured.
Final mean absolute error ${s.final_mean_abs_error === null ? 'n/a (no ground truth)' : `${s.final_mean_abs_error.toFixed(4)} eV`}, final mean predictive sd ${s.final_mean_sd.toFixed(4)} eV.</p>
<table><tr><th>where the time went</th><th>s</th><th>share</th></tr>${rows}<tr><th>total</th><th>${s.wall_clock_s.toFixed(1)}</th><th>100 %</th></tr></table>
<div class="grid">${panels.map(([svg, caption]) => `<figure>${svg}<figcaption>${caption}</figcaption></figure>`).join('\n')}</div>
</body></html>
`;
}

type Panel = [string, string];

function realSpace(r: CampaignRecord): Panel {
  const [w, h] = r.area_um;
  const ax = new Axes({ width: 520, height: 500, x: [-w / 2, w / 2], y: [-h / 2, h / 2] }).axes('(a) real-space trajectory', 'x (um)', 'y (um)');
  for (let x = -w / 2; x <= w / 2 + 1e-9; x += r.region_um) ax.line([x, x], [-h / 2, h / 2], '#eee', { width: 1 });
  for (let y = -h / 2; y <= h / 2 + 1e-9; y += r.region_um) ax.line([-w / 2, w / 2], [y, y], '#eee', { width: 1 });
  const unmeasured = r.particles.filter((p) => !p.measured);
  ax.points(unmeasured.map((p) => p.x_m * 1e6), unmeasured.map((p) => p.y_m * 1e6), '#bbb', 1.5);
  ax.line(r.stage_path_m.map((p) => p[0] * 1e6), r.stage_path_m.map((p) => p[1] * 1e6), '#c33', { width: 1.2, label: 'stage path' });
  const n = Math.max(1, r.iterations.length - 1);
  ax.points(
    r.iterations.map((it) => it.x_m * 1e6),
    r.iterations.map((it) => it.y_m * 1e6),
    r.iterations.map((it) => ramp(it.iteration / n)),
    3,
    r.iterations.map((it) => `#${it.iteration} ${it.region}: ${it.value_eV.toFixed(3)} eV`),
  );
  return [ax.toString(), 'Grey: particles found and not measured; colour: measured particles by iteration (dark = early); red: the stage path; grid: regions (beam-shift range).'];
}

function compositions(r: CampaignRecord): Panel {
  const n = Math.max(1, r.iterations.length - 1);
  const colors = r.iterations.map((it) => ramp(it.iteration / n));
  if (r.elements.length === 3) {
    const ax = new Axes({ width: 520, height: 500, x: [-0.05, 1.05], y: [-0.08, 0.95], margin: { left: 20, right: 20, top: 28, bottom: 20 } });
    ax.add(`<text x="${(ax.left + ax.right) / 2}" y="18" text-anchor="middle" font-weight="bold">(b) composition trajectory</text>`);
    ax.line([0, 1, 0.5, 0], [0, 0, Math.sqrt(3) / 2, 0], '#666');
    for (let k = 1; k < 10; k++) {
      const t = k / 10;
      for (const [a, b] of [
        [ternaryXY([1 - t, t, 0]), ternaryXY([0, t, 1 - t])],
        [ternaryXY([t, 1 - t, 0]), ternaryXY([t, 0, 1 - t])],
        [ternaryXY([1 - t, 0, t]), ternaryXY([0, 1 - t, t])],
      ])
        ax.line([a[0], b[0]], [a[1], b[1]], '#eee', { width: 0.8 });
    }
    const xy = r.iterations.map((it) => ternaryXY(it.composition));
    ax.line(xy.map((p) => p[0]), xy.map((p) => p[1]), '#ccc', { width: 0.6 });
    ax.points(xy.map((p) => p[0]), xy.map((p) => p[1]), colors, 3);
    const [a, b, c] = r.elements;
    ax.add(`<text x="${ax.px(0)}" y="${ax.py(-0.05)}" text-anchor="middle">${esc(a!)}</text><text x="${ax.px(1)}" y="${ax.py(-0.05)}" text-anchor="middle">${esc(b!)}</text><text x="${ax.px(0.5)}" y="${ax.py(0.9)}" text-anchor="middle">${esc(c!)}</text>`);
    return [ax.toString(), `Measured compositions (EDX) on the ${r.elements.join('-')} simplex, coloured by iteration; grid lines every 0.1.`];
  }
  // More than three components: the first two coordinates of an orthonormal basis of the simplex plane.
  const xy = r.iterations.map((it) => helmert2(it.composition));
  const ax = new Axes({ width: 520, height: 500, x: extent(xy.map((p) => p[0])), y: extent(xy.map((p) => p[1])) }).axes('(b) composition trajectory (projection)', 'Helmert 1', 'Helmert 2');
  ax.points(xy.map((p) => p[0]), xy.map((p) => p[1]), colors, 3);
  return [ax.toString(), `${r.elements.length} components (${r.elements.join('-')}): measured compositions projected on the first two Helmert coordinates of the simplex plane, coloured by iteration.`];
}

function perIteration(r: CampaignRecord, key: 'mean_sd' | 'mean_abs_error'): Panel {
  const xs = r.iterations.map((it) => it.iteration);
  const ys = r.iterations.map((it) => (key === 'mean_sd' ? it.mean_sd : (it.mean_abs_error ?? NaN)));
  const title = key === 'mean_sd' ? '(c) mean predictive uncertainty' : '(d) mean absolute error';
  const ax = new Axes({ width: 520, height: 300, x: extent(xs, 0), y: extent(ys) }).axes(title, 'iteration', key === 'mean_sd' ? 'mean sd (eV)' : 'mean |error| (eV)');
  ax.vlines(switchIterations(r));
  ax.line(xs, ys, key === 'mean_sd' ? '#1f6fb4' : '#2a9d3a');
  return [ax.toString(), 'Over the simplex grid (step 0.1). Dashed: region changes.'];
}

function shares(r: CampaignRecord): Panel {
  const xs = r.iterations.map((it) => it.iteration);
  const ys = r.iterations.map((it) => it.share_measured_in_region);
  const ax = new Axes({ width: 520, height: 300, x: extent(xs, 0), y: [0, 1.05] }).axes('(e) share measured per region', 'iteration', 'measured / found in region');
  ax.vlines(switchIterations(r));
  ax.line(xs, ys, '#8a4fbf');
  const leaving = regionChanges(r);
  ax.points(leaving.map((it) => it.iteration), leaving.map((it) => it.share_measured_in_region), '#c33', 3.5, leaving.map((it) => `left ${it.region} at ${(it.share_measured_in_region * 100).toFixed(0)} %`));
  return [ax.toString(), 'Share of the current region\'s particles measured; red dots: the share when the policy left the region.'];
}

function breakdown(r: CampaignRecord): Panel {
  const xs = r.iterations.map((it) => it.time_s);
  const ax = new Axes({ width: 520, height: 300, x: extent(xs, 0), y: extent(r.iterations.map((it) => it.iteration), 0) }).axes('time per iteration', 'instrument time (s)', 'iteration');
  ax.line(xs, r.iterations.map((it) => it.iteration), '#444');
  const palette = ['#e76f51', '#f4a261', '#e9c46a', '#2a9d8f', '#264653', '#8ab17d', '#999'];
  const total = r.summary.wall_clock_s || 1;
  let x0 = 0;
  LATENCY_CATEGORIES.forEach((c, i) => {
    const w = ((r.summary.breakdown_s[c] ?? 0) / total) * (ax.right - ax.left);
    ax.add(`<rect x="${ax.left + x0}" y="${ax.bottom + 22}" width="${w}" height="8" fill="${palette[i]}"><title>${c}: ${(r.summary.breakdown_s[c] ?? 0).toFixed(1)} s</title></rect>`);
    x0 += w;
  });
  ax.legend(LATENCY_CATEGORIES.map((c, i) => ({ label: c.replace('_', ' '), color: palette[i]! })));
  return [ax.toString(), 'Measurements against instrument time; the bar below the axis splits the total by latency category.'];
}

/** Iterations after which the next measurement was in another region (dashed lines). */
function switchIterations(r: CampaignRecord): number[] {
  return regionChanges(r).map((it) => it.iteration + 0.5);
}

function regionChanges(r: CampaignRecord): CampaignRecord['iterations'] {
  return r.iterations.filter((it, i) => i + 1 < r.iterations.length && r.iterations[i + 1]!.region !== it.region);
}

function helmert2(c: ArrayLike<number>): [number, number] {
  return [(c[0]! - c[1]!) / Math.SQRT2, (c[0]! + c[1]! - 2 * c[2]!) / Math.sqrt(6)];
}

function pct(a: number, b: number): string {
  return b > 0 ? `${((100 * a) / b).toFixed(1)} %` : '-';
}

export function hms(s: number): string {
  if (s < 59.95) return `${s.toFixed(1)} s`;
  // Round to whole seconds before splitting, so 539.6 s reads "9 min 0 s", not "8 min 60 s".
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h} h ${m} min ${sec} s` : `${m} min ${sec} s`;
}
