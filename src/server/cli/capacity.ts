import {
  capacityRows,
  gridLevels,
  PAPER_COVERAGE,
  PAPER_SD_FRACTION,
  PAPER_USABLE_AREA_M2,
  paperGridPoints,
  simplexGridPoints,
} from '../../protocol/capacity.js';
import { guarded, numberOption, parse, UsageError } from './args.js';

const USAGE = `usage: stem-twin capacity [options]

How many particles fit on a TEM grid (eq. 1: E[N] = A_c / (pi (mu^2 + sigma^2)), A_c = coverage x
usable area), and how many compositions a simplex grid asks for in D = 3..8 dimensions: the true
simplex grid, C(D + 1/step - 1, D - 1), and the paper's 10^D.

options:
  --radius-nm LIST    mean particle radii, comma-separated (default 500,150,50)
  --sd-fraction F     radius standard deviation as a fraction of the mean (default 0.3)
  --coverage F        covered fraction of the usable area, in (0, 1] (default 0.5)
  --area-mm2 A        usable area in mm^2 (default 2.6667: two thirds of a 2 x 2 mm grid)
  --step S            simplex grid step, 1/n (default 0.1)
  --json              print one JSON object instead of the tables
  -h, --help          this text

example:
  stem-twin capacity --radius-nm 500,150,50,20 --coverage 0.3`;

const DIMENSIONS = [3, 4, 5, 6, 7, 8];

function radiiOption(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const radii = value.split(',').map((v) => Number(v.trim()));
  if (value.trim() === '' || radii.some((r) => !(Number.isFinite(r) && r > 0 && r <= 1e7))) {
    throw new UsageError(`--radius-nm must be a comma-separated list of radii in nm, each > 0 (got "${value}")`);
  }
  return radii;
}

function stepOption(value: string | undefined): number | undefined {
  const step = numberOption(value, 'step', 0.001, 0.5);
  if (step === undefined) return undefined;
  try {
    gridLevels(step);
  } catch {
    throw new UsageError(`--step must be 1/n for a whole n >= 2, e.g. 0.5, 0.2, 0.1, 0.05 (got "${value}")`);
  }
  return step;
}

export function run(argv: string[]): Promise<number> {
  return guarded(USAGE, async () => {
    const { values, positionals } = parse(argv, {
      'radius-nm': { type: 'string' },
      'sd-fraction': { type: 'string' },
      coverage: { type: 'string' },
      'area-mm2': { type: 'string' },
      step: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`capacity takes no positional arguments (got ${positionals.join(' ')})`);
    const radii_nm = radiiOption(values['radius-nm']) ?? [500, 150, 50];
    const sdFraction = numberOption(values['sd-fraction'], 'sd-fraction', 0, 10) ?? PAPER_SD_FRACTION;
    const coverage = numberOption(values.coverage, 'coverage', 1e-9, 1) ?? PAPER_COVERAGE;
    const area_mm2 = numberOption(values['area-mm2'], 'area-mm2', 1e-9, 1e6) ?? PAPER_USABLE_AREA_M2 * 1e6;
    const step = stepOption(values.step) ?? 0.1;

    const rows = capacityRows(radii_nm, sdFraction, coverage, area_mm2 / 1e6, step);
    const dimensions = DIMENSIONS.map((D) => ({ D, simplex_grid_points: simplexGridPoints(D, step), paper_grid_points: paperGridPoints(D, step) }));
    if (values.json) {
      console.log(JSON.stringify({ area_mm2, coverage, sd_fraction: sdFraction, step, radii: rows, dimensions }));
      return 0;
    }
    const levels = gridLevels(step);
    console.log(
      [
        `Random library capacity, eq. (1): E[N] = A_c / (pi (mu^2 + sigma^2))`,
        `usable area ${fmt(area_mm2)} mm^2 x coverage ${coverage} = A_c ${fmt(area_mm2 * coverage)} mm^2; sigma = ${sdFraction} mu`,
        '',
        table(
          ['radius (nm)', 'sigma (nm)', 'E[N]', `largest D, simplex grid (step ${step})`, `largest D, ${levels}^D`],
          rows.map((r) => [fmt(r.radius_nm), fmt(r.sigma_nm), r.expected_particles.toExponential(2), String(r.largest_D_simplex), String(r.largest_D_paper)]),
        ),
        '',
        table(
          ['D', `simplex grid points (step ${step})`, `${levels}^D (paper)`],
          dimensions.map((d) => [String(d.D), String(d.simplex_grid_points), d.paper_grid_points.toExponential(0)]),
        ),
        '',
        `The paper maps ${levels}^D points to each dimension; the simplex grid needs far fewer, so its`,
        'mapping of radius to dimension is conservative.',
      ].join('\n'),
    );
    return 0;
  });
}

function fmt(x: number): string {
  return Number(x.toPrecision(5)).toString();
}

/** Right-aligned columns under their headers. */
function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}
