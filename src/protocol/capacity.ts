/**
 * Random library capacity (model.md section 1, eq. 1): how many particles a grid holds, and how
 * many compositions a simplex grid asks for, per dimension.
 */

/** The paper's TEM grid: 2 x 2 mm, two thirds usable. */
export const PAPER_USABLE_AREA_M2 = (2e-3 * 2e-3 * 2) / 3;
export const PAPER_COVERAGE = 0.5;
export const PAPER_SD_FRACTION = 0.3;
/** Random sequential placement of non-overlapping discs jams near 55 % coverage; the twin refuses well before. */
export const MAX_COVERAGE = 0.5;

/** (1) E[N] = A_c / (pi (mu^2 + sigma^2)), A_c = coverage x usable area: discs of mean area pi E[r^2]. */
export function expectedParticles(mu_m: number, sigma_m: number, coverage: number, usableArea_m2: number): number {
  if (!(Number.isFinite(mu_m) && mu_m > 0)) throw new RangeError(`mu_m: must be a number > 0, got ${mu_m}`);
  if (!(Number.isFinite(sigma_m) && sigma_m >= 0)) throw new RangeError(`sigma_m: must be a number >= 0, got ${sigma_m}`);
  if (!(coverage > 0 && coverage <= 1)) throw new RangeError(`coverage: must be in (0, 1], got ${coverage}`);
  if (!(Number.isFinite(usableArea_m2) && usableArea_m2 > 0)) throw new RangeError(`usableArea_m2: must be a number > 0, got ${usableArea_m2}`);
  return (coverage * usableArea_m2) / (Math.PI * (mu_m * mu_m + sigma_m * sigma_m));
}

/** Levels per axis, 1/step, which must be a whole number >= 2 (step 0.1: 10). */
export function gridLevels(step: number): number {
  const n = Math.round(1 / step);
  if (!(step > 0 && step <= 0.5) || Math.abs(n * step - 1) > 1e-9) throw new RangeError(`step: must be 1/n for a whole n >= 2 (0.5, 0.2, 0.1, 0.05, ...), got ${step}`);
  return n;
}

function checkD(D: number): void {
  if (!(Number.isInteger(D) && D >= 1)) throw new RangeError(`D: must be an integer >= 1, got ${D}`);
}

/** Binomial coefficient, exact while it stays below 2^53 (every partial product is C(n-k+i, i)). */
export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  k = Math.min(k, n - k);
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

/** Compositions of D components in multiples of step summing to 1: C(D + 1/step - 1, D - 1). */
export function simplexGridPoints(D: number, step = 0.1): number {
  checkD(D);
  const n = gridLevels(step);
  return binomial(D + n - 1, D - 1);
}

/** The paper's count: (1/step)^D, i.e. 10^D, ten levels per axis. */
export function paperGridPoints(D: number, step = 0.1): number {
  checkD(D);
  return gridLevels(step) ** D;
}

/** Largest D (up to maxD) whose grid needs no more than `count` points; 0 if not even D = 1 fits. */
export function largestDimension(count: number, gridPoints: (D: number) => number, maxD = 1000): number {
  if (!(Number.isFinite(count) && count >= 0)) throw new RangeError(`count: must be a finite number >= 0, got ${count}`);
  let D = 0;
  while (D < maxD && gridPoints(D + 1) <= count) D++;
  return D;
}

export interface CapacityRow {
  radius_nm: number;
  sigma_nm: number;
  expected_particles: number;
  largest_D_simplex: number;
  largest_D_paper: number;
}

/** Eq. (1) per radius, with the largest D each grid count allows. */
export function capacityRows(radii_nm: number[], sdFraction: number, coverage: number, usableArea_m2: number, step = 0.1): CapacityRow[] {
  return radii_nm.map((radius_nm) => {
    const sigma_nm = sdFraction * radius_nm;
    const expected = expectedParticles(radius_nm / 1e9, sigma_nm / 1e9, coverage, usableArea_m2);
    return {
      radius_nm,
      sigma_nm,
      expected_particles: expected,
      largest_D_simplex: largestDimension(expected, (D) => simplexGridPoints(D, step)),
      largest_D_paper: largestDimension(expected, (D) => paperGridPoints(D, step)),
    };
  });
}
