import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CampaignRecord } from '../../policy/campaign/record.js';
import { LATENCY_CATEGORIES } from '../../protocol/timing.js';
import { renderReport } from './report.js';

export const METRICS_COLUMNS = [
  'iteration',
  'phase',
  'time_s',
  'region',
  'particle',
  'value_eV',
  'mean_sd',
  'mean_abs_error',
  'share_measured_in_region',
  'decision',
  ...LATENCY_CATEGORIES.map((c) => `${c}_s`),
] as const;

/** One CSV row per iteration, with the cumulative time per category. */
export function metricsCsv(record: CampaignRecord): string {
  const rows = record.iterations.map((it) =>
    [
      it.iteration,
      it.phase,
      it.time_s.toFixed(3),
      it.region,
      it.particle,
      it.value_eV.toFixed(5),
      it.mean_sd.toFixed(6),
      it.mean_abs_error === null ? '' : it.mean_abs_error.toFixed(6),
      it.share_measured_in_region.toFixed(4),
      it.decision?.decision ?? '',
      ...LATENCY_CATEGORIES.map((c) => it.breakdown_s[c].toFixed(3)),
    ].join(','),
  );
  return `${METRICS_COLUMNS.join(',')}\n${rows.join('\n')}\n`;
}

/**
 * Writes summary.json, trace.jsonl, metrics.csv and report.html into `dir`. Each file is written
 * to a temporary name and renamed, so an interrupted run never leaves a half-written file.
 */
export function writeCampaignOutputs(dir: string, record: CampaignRecord, trace: readonly object[]): string[] {
  return writeOutputs(dir, [
    ['summary.json', `${JSON.stringify(record.summary, null, 2)}\n`],
    ['trace.jsonl', trace.map((t) => JSON.stringify(t)).join('\n') + '\n'],
    ['metrics.csv', metricsCsv(record)],
    ['report.html', renderReport(record)],
  ]);
}

/** Writes [name, text] files into `dir`, each through a temporary name and a rename; returns their paths. */
export function writeOutputs(dir: string, files: [string, string][]): string[] {
  mkdirSync(dir, { recursive: true });
  return files.map(([name, text]) => {
    const path = join(dir, name);
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
    return path;
  });
}
