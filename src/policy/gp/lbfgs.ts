/**
 * Limited-memory BFGS for small unconstrained problems (the GP's D + 2 log-hyperparameters), with
 * an Armijo backtracking line search. The objective may return a non-finite value where it is
 * undefined (a failed Cholesky): the line search then backs off.
 */

/** Writes the gradient into `grad` and returns the objective value. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

/**
 * An objective whose gradient costs extra: `value(x)` alone, then `gradient(grad)` at the point of
 * the last `value` call. The line search asks for the gradient only at the points it accepts.
 */
export interface SplitObjective {
  value(x: Float64Array): number;
  gradient(grad: Float64Array): void;
}

function split(objective: Objective | SplitObjective, n: number): SplitObjective {
  if (typeof objective !== 'function') return objective;
  const last = new Float64Array(n);
  return {
    value: (x) => objective(x, last),
    gradient: (grad) => grad.set(last),
  };
}

export interface LbfgsOptions {
  maxIterations?: number;
  /** Stop when max |grad| falls below this. */
  gradientTolerance?: number;
  /** Stop when the decrease of f in one iteration is below this x max(1, |f|). */
  relativeTolerance?: number;
  memory?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

export function minimizeLbfgs(objectiveIn: Objective | SplitObjective, x0: ArrayLike<number>, options: LbfgsOptions = {}): LbfgsResult {
  const { maxIterations = 100, gradientTolerance = 1e-6, relativeTolerance = 1e-10, memory = 8 } = options;
  const n = x0.length;
  const objective = split(objectiveIn, n);
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let f = objective.value(x);
  let evaluations = 1;
  if (!Number.isFinite(f)) throw new RangeError(`minimizeLbfgs: the objective is not finite at the start point (${Array.from(x0).join(', ')})`);
  objective.gradient(g);

  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(n);
  const alphaTmp = new Float64Array(memory);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  let iterations = 0;
  let converged = maxAbs(g) < gradientTolerance;

  while (!converged && iterations < maxIterations) {
    iterations++;
    // Two-loop recursion: dir = -H g.
    for (let i = 0; i < n; i++) dir[i] = -g[i]!;
    for (let k = S.length - 1; k >= 0; k--) {
      const a = rho[k]! * dot(S[k]!, dir);
      alphaTmp[k] = a;
      const y = Y[k]!;
      for (let i = 0; i < n; i++) dir[i]! -= a * y[i]!;
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const gamma = dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!);
      for (let i = 0; i < n; i++) dir[i]! *= gamma;
    }
    for (let k = 0; k < S.length; k++) {
      const b = rho[k]! * dot(Y[k]!, dir);
      const s = S[k]!;
      const c = alphaTmp[k]! - b;
      for (let i = 0; i < n; i++) dir[i]! += c * s[i]!;
    }
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < n; i++) dir[i] = -g[i]!;
      slope = dot(g, dir);
    }
    let step = S.length === 0 ? Math.min(1, 1 / Math.max(1e-12, maxAbs(g))) : 1;
    let fNew = NaN;
    let accepted = false;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i]! + step * dir[i]!;
      fNew = objective.value(xNew);
      evaluations++;
      if (Number.isFinite(fNew) && fNew <= f + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break;
    objective.gradient(gNew);
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i]! - x[i]!;
      y[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (S.length === memory) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    const decrease = f - fNew;
    x.set(xNew);
    g.set(gNew);
    f = fNew;
    converged = maxAbs(g) < gradientTolerance || decrease < relativeTolerance * Math.max(1, Math.abs(f));
  }
  return { x, f, iterations, evaluations, converged };
}
