import type { PolicyName } from '../../protocol/scenario.js';
import type { CampaignResult } from '../pool.js';
import { errorAtTime, quantile } from '../stats.js';
import { hms } from './report.js';
import { Axes, esc } from './svg.js';

const PALETTE = ['#1f6fb4', '#e76f51', '#2a9d3a', '#8a4fbf', '#444'];

export interface ErrorBand {
  time_s: number[];
  /** Per time: the median, 10th and 90th percentile of the error over the seeds running then (NaN where fewer than half are). */
  median: number[];
  p10: number[];
  p90: number[];
}

/** The error of each seed's run sampled on a common time grid, summarised across seeds. */
export function errorBand(results: CampaignResult[], times: number[]): ErrorBand {
  const band: ErrorBand = { time_s: times, median: [], p10: [], p90: [] };
  for (const t of times) {
    // A seed counts from its first measurement to the end of its run, not after it has stopped.
    const running = results.filter((r) => r.curve.length > 0 && t <= r.curve[r.curve.length - 1]![0]);
    const errors = running.map((r) => errorAtTime(r.curve, t)).filter((e): e is number => e !== null);
    // Unless most seeds are measuring, a median would describe a few runs only.
    const ok = errors.length * 2 > results.length;
    band.median.push(ok ? quantile(errors, 0.5) : NaN);
    band.p10.push(ok ? quantile(errors, 0.1) : NaN);
    band.p90.push(ok ? quantile(errors, 0.9) : NaN);
  }
  return band;
}

/**
 * A self-contained HTML page: each policy's error against instrument time (median over seeds,
 * shaded 10th-90th percentile), with the target error and the common time of the comparison.
 */
export function renderCompareReport(opts: { scenario: string; byPolicy: Map<PolicyName, CampaignResult[]>; target: number; atTime: number; summary: string }): string {
  const all = [...opts.byPolicy.values()].flat();
  const tMax = Math.max(...all.map((r) => r.summary.wall_clock_s));
  const times = Array.from({ length: 241 }, (_, i) => (tMax * i) / 240);
  const bands = [...opts.byPolicy].map(([policy, results]) => ({ policy, band: errorBand(results, times) }));
  const yMax = Math.max(...bands.flatMap((b) => b.band.p90.filter(Number.isFinite)), opts.target) * 1.05;
  const minutes = times.map((t) => t / 60);
  const ax = new Axes({ width: 900, height: 420, x: [0, tMax / 60], y: [0, yMax] }).axes(`${opts.scenario}: error against instrument time`, 'instrument time (min)', 'mean |error| over the simplex grid (eV)');
  bands.forEach(({ band }, i) => {
    const c = PALETTE[i % PALETTE.length]!;
    const upper: string[] = [];
    const lower: string[] = [];
    band.p90.forEach((v, k) => {
      if (!Number.isFinite(v)) return;
      upper.push(`${ax.px(minutes[k]!).toFixed(1)},${ax.py(v).toFixed(1)}`);
      lower.unshift(`${ax.px(minutes[k]!).toFixed(1)},${ax.py(band.p10[k]!).toFixed(1)}`);
    });
    if (upper.length) ax.add(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${c}" fill-opacity="0.15" stroke="none"/>`);
    ax.line(minutes, band.median, c, { width: 2 });
  });
  ax.line([0, tMax / 60], [opts.target, opts.target], '#999', { dash: '5 4', label: 'target error' });
  ax.vlines([opts.atTime / 60], '#999');
  ax.legend(bands.map(({ policy }, i) => ({ label: `${policy} (${opts.byPolicy.get(policy)!.length} seeds)`, color: PALETTE[i % PALETTE.length]! })));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stem-twin compare: ${esc(opts.scenario)}</title>
<style>body { font-family: sans-serif; margin: 24px; color: #222; max-width: 960px; } pre { background: #f6f6f6; padding: 8px; white-space: pre-wrap; }</style></head><body>
<h1>${esc(opts.scenario)}: ${esc([...opts.byPolicy.keys()].join(' vs '))}</h1>
<figure style="margin:0">${ax.toString()}<figcaption style="font-size:12px;color:#555">Lines: median over seeds of the mean absolute error at each instant (shown once most seeds have measured); bands: 10th to 90th percentile.
Dashed horizontal: the target error; dashed vertical: the common time (${esc(hms(opts.atTime))}).</figcaption></figure>
<pre>${esc(opts.summary)}</pre>
</body></html>
`;
}
