import { simplexBox, toHelmert } from './helmert.js';

/**
 * A superposition of K isotropic Gaussians over the composition simplex, evaluated in
 * O(4^(D-1)) per point instead of O(K): a particle-mesh method in Helmert coordinates
 * (helmert.ts), where distances are preserved and the Gaussian factorises per axis.
 *
 * 1. Deposit each weighted centre on a regular lattice of step h with quadratic B-spline weights
 *    (3 nodes per axis). B-splines of degree n reproduce moments up to order n whatever the
 *    centre's position in its cell, so the deposit acts as a fixed smoothing of variance h^2/4.
 * 2. Convolve separably with a sampled 1D Gaussian of variance sd^2 - (1/4 + 1/3) h^2.
 * 3. Read a point back by cubic B-spline quasi-interpolation (4 nodes per axis, variance h^2/3).
 * The three variances add up to sd^2 exactly, so there is no widening to first order; what
 * remains is the splines' excess kurtosis, the quadratic spline's position-dependent third
 * moment and aliasing: a relative L2 kernel error per axis of about 1.3e-4 at h = sd/4, 4e-4 at
 * h = sd/3 and 2.5e-3 at h = 0.6 sd (measured in 1D; errors add over axes).
 */

/** Nodes of padding beyond the simplex's bounding box on each side: the cubic stencil reaches 2. */
const MARGIN_NODES = 3;
/** The convolution kernel is cut at this many of its standard deviations (exp(-12.5) ~ 4e-6). */
const KERNEL_CUTOFF_SD = 5;
/** Variances of the quadratic (deposit) and cubic (read) B-splines at unit spacing. */
const QUADRATIC_VARIANCE = 1 / 4;
const CUBIC_VARIANCE = 1 / 3;

export interface LatticeShape {
  /** Lattice step in composition units, the same on every axis. */
  step: number;
  origin: Float64Array;
  /** Nodes per axis (row-major: the last axis is contiguous). */
  shape: Int32Array;
  strides: Int32Array;
  nodes: number;
}

/** The lattice that covers the simplex of D components (plus margin) at step h. */
export function latticeShape(D: number, step: number): LatticeShape {
  const { lo, hi } = simplexBox(D);
  const d = D - 1;
  const origin = new Float64Array(d);
  const shape = new Int32Array(d);
  const strides = new Int32Array(d);
  let nodes = 1;
  for (let a = 0; a < d; a++) {
    origin[a] = lo[a]! - MARGIN_NODES * step;
    shape[a] = Math.ceil((hi[a]! - lo[a]!) / step) + 2 * MARGIN_NODES + 1;
    nodes *= shape[a]!;
  }
  let stride = 1;
  for (let a = d - 1; a >= 0; a--) {
    strides[a] = stride;
    stride *= shape[a]!;
  }
  return { step, origin, shape, strides, nodes };
}

/** Number of lattice nodes at step h, without allocating (for choosing h). */
export function latticeNodeCount(D: number, step: number): number {
  const { lo, hi } = simplexBox(D);
  let nodes = 1;
  for (let a = 0; a < D - 1; a++) nodes *= Math.ceil((hi[a]! - lo[a]!) / step) + 2 * MARGIN_NODES + 1;
  return nodes;
}

/** Largest step for which the B-splines' variances still leave a positive kernel variance. */
export function maxLatticeStep(sd: number): number {
  return sd * Math.sqrt(1 / (QUADRATIC_VARIANCE + CUBIC_VARIANCE)) * 0.999;
}

/**
 * The B-spline stencil around a point: order 3 (quadratic, 3 nodes per axis, variance h^2/4)
 * or 4 (cubic, 4 nodes per axis, variance h^2/3). The first d-1 axes are expanded into
 * (index, weight) pairs; the last axis is contiguous in memory, so its `order` weights are kept
 * apart and applied to `order` consecutive nodes from each index.
 */
class Stencil {
  readonly index: Int32Array;
  readonly weight: Float64Array;
  /** Weights along the last axis. */
  readonly last = new Float64Array(4);
  /** Pairs filled by the last `place`. */
  readonly count: number;
  private readonly firsts: Int32Array;
  /** Four weight slots per axis. */
  private readonly axisWeights: Float64Array;

  constructor(
    private readonly lattice: LatticeShape,
    private readonly order: 3 | 4,
  ) {
    this.count = order ** (lattice.shape.length - 1);
    this.index = new Int32Array(this.count);
    this.weight = new Float64Array(this.count);
    this.firsts = new Int32Array(lattice.shape.length);
    this.axisWeights = new Float64Array(4 * lattice.shape.length);
  }

  /** The first node of the stencil at lattice coordinate x (one axis); its weights go to w[at..]. */
  private axis(x: number, w: Float64Array, at: number): number {
    if (this.order === 4) {
      const cell = Math.floor(x);
      const t = x - cell;
      const s = 1 - t;
      const t2 = t * t;
      const t3 = t2 * t;
      w[at + 0] = (s * s * s) / 6;
      w[at + 1] = (3 * t3 - 6 * t2 + 4) / 6;
      w[at + 2] = (-3 * t3 + 3 * t2 + 3 * t + 1) / 6;
      w[at + 3] = t3 / 6;
      return cell - 1;
    }
    const nearest = Math.round(x);
    const t = x - nearest;
    w[at + 0] = 0.5 * (0.5 - t) * (0.5 - t);
    w[at + 1] = 0.75 - t * t;
    w[at + 2] = 0.5 * (0.5 + t) * (0.5 + t);
    return nearest - 1;
  }

  /**
   * `u` holds Helmert coordinates; fills the stencil with weights scaled by `scale`, or returns
   * false (stencil unchanged) if it would leave the lattice.
   */
  place(u: Float64Array, scale: number): boolean {
    const { origin, shape, strides, step } = this.lattice;
    const order = this.order;
    const d = shape.length;
    const firsts = this.firsts;
    const aw = this.axisWeights;
    for (let a = 0; a < d; a++) {
      const first = this.axis((u[a]! - origin[a]!) / step, aw, 4 * a);
      if (!(first >= 0 && first + order <= shape[a]!)) return false;
      firsts[a] = first;
    }
    const idx = this.index;
    const wts = this.weight;
    idx[0] = firsts[d - 1]!;
    wts[0] = scale;
    let count = 1;
    for (let a = 0; a < d - 1; a++) {
      const stride = strides[a]!;
      const offset = firsts[a]! * stride;
      const w0 = aw[4 * a]!, w1 = aw[4 * a + 1]!, w2 = aw[4 * a + 2]!, w3 = aw[4 * a + 3]!;
      // Expand in place from the end: entry e becomes entries order*e .. order*e + order-1.
      if (order === 4) {
        for (let e = count - 1; e >= 0; e--) {
          const bi = idx[e]! + offset;
          const bw = wts[e]!;
          const o = 4 * e;
          idx[o + 3] = bi + 3 * stride;
          wts[o + 3] = bw * w3;
          idx[o + 2] = bi + 2 * stride;
          wts[o + 2] = bw * w2;
          idx[o + 1] = bi + stride;
          wts[o + 1] = bw * w1;
          idx[o] = bi;
          wts[o] = bw * w0;
        }
      } else {
        for (let e = count - 1; e >= 0; e--) {
          const bi = idx[e]! + offset;
          const bw = wts[e]!;
          const o = 3 * e;
          idx[o + 2] = bi + 2 * stride;
          wts[o + 2] = bw * w2;
          idx[o + 1] = bi + stride;
          wts[o + 1] = bw * w1;
          idx[o] = bi;
          wts[o] = bw * w0;
        }
      }
      count *= order;
    }
    for (let q = 0; q < order; q++) this.last[q] = aw[4 * (d - 1) + q]!;
    return true;
  }
}

export class GaussianLattice {
  private readonly values: Float64Array;
  /** Reads use cubic B-splines (a C2 field); deposits quadratic ones (3^d instead of 4^d scatters per centre). */
  private readonly stencil: Stencil;
  private readonly depositStencil: Stencil;
  private readonly u: Float64Array;
  private readonly D: number;

  private constructor(
    readonly lattice: LatticeShape,
    readonly sd: number,
  ) {
    this.D = lattice.shape.length + 1;
    this.values = new Float64Array(lattice.nodes);
    this.depositStencil = new Stencil(lattice, 3);
    this.stencil = new Stencil(lattice, 4);
    this.u = new Float64Array(this.D - 1);
  }

  /**
   * Builds the lattice for sum_k amplitudes[k] exp(-|c - centres_k|^2 / (2 sd^2)).
   * `centres` holds K compositions of D components each, row after row, all on the simplex.
   */
  static build(centres: Float64Array, amplitudes: Float64Array, D: number, sd: number, step: number): GaussianLattice {
    let done = false;
    return GaussianLattice.buildStreamed(D, sd, step, () => {
      if (done) return null;
      done = true;
      return { centres, amplitudes };
    });
  }

  /**
   * As build, with the centres and amplitudes handed over a chunk at a time, in order, by `next`
   * (null when there are no more): the same lattice, without holding them all at once.
   */
  static buildStreamed(D: number, sd: number, step: number, next: () => { centres: Float64Array; amplitudes: Float64Array } | null): GaussianLattice {
    if (!(step > 0 && step <= maxLatticeStep(sd))) throw new RangeError(`lattice step must be in (0, ${maxLatticeStep(sd)}] for sd ${sd}, got ${step}`);
    const field = new GaussianLattice(latticeShape(D, step), sd);
    let first = 0;
    for (let chunk = next(); chunk; chunk = next()) {
      field.deposit(chunk.centres, chunk.amplitudes, first);
      first += chunk.amplitudes.length;
    }
    const sdKernel = Math.sqrt(sd * sd - (QUADRATIC_VARIANCE + CUBIC_VARIANCE) * step * step);
    const kernel = sampledKernel(sd, sdKernel, step);
    for (let a = 0; a < D - 1; a++) field.convolveAxis(a, kernel);
    return field;
  }

  /** Scatters each centre onto its 3^d stencil (in generation order: sorting by cell was slower). */
  private deposit(centres: Float64Array, amplitudes: Float64Array, first: number): void {
    if (this.D === 3) {
      this.depositPlane(centres, amplitudes, first);
      return;
    }
    if (this.D === 5) {
      this.depositSpace4(centres, amplitudes, first);
      return;
    }
    const D = this.D;
    const c = new Float64Array(D);
    const stencil = this.depositStencil;
    const { index, weight, last, count } = stencil;
    const values = this.values;
    for (let k = 0; k < amplitudes.length; k++) {
      for (let i = 0; i < D; i++) c[i] = centres[k * D + i]!;
      toHelmert(c, this.u);
      if (!stencil.place(this.u, amplitudes[k]!)) throw new RangeError(`Gaussian centre ${first + k} lies outside the composition simplex`);
      const l0 = last[0]!, l1 = last[1]!, l2 = last[2]!;
      for (let e = 0; e < count; e++) {
        const b = index[e]!;
        const w = weight[e]!;
        values[b]! += w * l0;
        values[b + 1]! += w * l1;
        values[b + 2]! += w * l2;
      }
    }
  }

  /**
   * deposit() for three components (a plane lattice), unrolled: the same arithmetic as toHelmert,
   * Stencil.place and the scatter loop (so the same values, bit for bit), without the per-centre
   * calls and index arrays.
   */
  private depositPlane(centres: Float64Array, amplitudes: Float64Array, first: number): void {
    const { origin, shape, strides, step } = this.lattice;
    const origin0 = origin[0]!;
    const origin1 = origin[1]!;
    const shape0 = shape[0]!;
    const shape1 = shape[1]!;
    const stride0 = strides[0]!;
    // As helmert.ts's INV_NORM[1] and INV_NORM[2].
    const invNorm1 = 1 / Math.sqrt(1 * 2);
    const invNorm2 = 1 / Math.sqrt(2 * 3);
    const values = this.values;
    for (let k = 0; k < amplitudes.length; k++) {
      const c0 = centres[3 * k]!;
      const c1 = centres[3 * k + 1]!;
      const c2 = centres[3 * k + 2]!;
      let prefix = 0;
      prefix += c0;
      const u0 = (prefix - 1 * c1) * invNorm1;
      prefix += c1;
      const u1 = (prefix - 2 * c2) * invNorm2;
      const x0 = (u0 - origin0) / step;
      const n0 = Math.round(x0);
      const t0 = x0 - n0;
      const x1 = (u1 - origin1) / step;
      const n1 = Math.round(x1);
      const t1 = x1 - n1;
      const first0 = n0 - 1;
      const first1 = n1 - 1;
      if (!(first0 >= 0 && first0 + 3 <= shape0 && first1 >= 0 && first1 + 3 <= shape1)) throw new RangeError(`Gaussian centre ${first + k} lies outside the composition simplex`);
      const scale = amplitudes[k]!;
      const l0 = 0.5 * (0.5 - t1) * (0.5 - t1);
      const l1 = 0.75 - t1 * t1;
      const l2 = 0.5 * (0.5 + t1) * (0.5 + t1);
      const b = first1 + first0 * stride0;
      let w = scale * (0.5 * (0.5 - t0) * (0.5 - t0));
      values[b]! += w * l0;
      values[b + 1]! += w * l1;
      values[b + 2]! += w * l2;
      const b1 = b + stride0;
      w = scale * (0.75 - t0 * t0);
      values[b1]! += w * l0;
      values[b1 + 1]! += w * l1;
      values[b1 + 2]! += w * l2;
      const b2 = b1 + stride0;
      w = scale * (0.5 * (0.5 + t0) * (0.5 + t0));
      values[b2]! += w * l0;
      values[b2 + 1]! += w * l1;
      values[b2 + 2]! += w * l2;
    }
  }

  /**
   * deposit() for five components (a four-axis lattice), unrolled as depositPlane: the same
   * arithmetic as toHelmert, Stencil.place (each weight the product scale x w0 x w1 x w2, left to
   * right) and the scatter loop, so the same values bit for bit.
   */
  private depositSpace4(centres: Float64Array, amplitudes: Float64Array, first: number): void {
    const { origin, shape, strides, step } = this.lattice;
    const o0 = origin[0]!, o1 = origin[1]!, o2 = origin[2]!, o3 = origin[3]!;
    const n0 = shape[0]!, n1 = shape[1]!, n2 = shape[2]!, n3 = shape[3]!;
    const s0 = strides[0]!, s1 = strides[1]!, s2 = strides[2]!;
    // As helmert.ts's INV_NORM[1..4].
    const in1 = 1 / Math.sqrt(1 * 2);
    const in2 = 1 / Math.sqrt(2 * 3);
    const in3 = 1 / Math.sqrt(3 * 4);
    const in4 = 1 / Math.sqrt(4 * 5);
    const w0 = new Float64Array(3);
    const w1 = new Float64Array(3);
    const w2 = new Float64Array(3);
    const values = this.values;
    for (let k = 0; k < amplitudes.length; k++) {
      const c0 = centres[5 * k]!;
      const c1 = centres[5 * k + 1]!;
      const c2 = centres[5 * k + 2]!;
      const c3 = centres[5 * k + 3]!;
      const c4 = centres[5 * k + 4]!;
      let prefix = 0;
      prefix += c0;
      const u0 = (prefix - 1 * c1) * in1;
      prefix += c1;
      const u1 = (prefix - 2 * c2) * in2;
      prefix += c2;
      const u2 = (prefix - 3 * c3) * in3;
      prefix += c3;
      const u3 = (prefix - 4 * c4) * in4;
      const x0 = (u0 - o0) / step;
      const r0 = Math.round(x0);
      const t0 = x0 - r0;
      const x1 = (u1 - o1) / step;
      const r1 = Math.round(x1);
      const t1 = x1 - r1;
      const x2 = (u2 - o2) / step;
      const r2 = Math.round(x2);
      const t2 = x2 - r2;
      const x3 = (u3 - o3) / step;
      const r3 = Math.round(x3);
      const t3 = x3 - r3;
      const f0 = r0 - 1;
      const f1 = r1 - 1;
      const f2 = r2 - 1;
      const f3 = r3 - 1;
      if (!(f0 >= 0 && f0 + 3 <= n0 && f1 >= 0 && f1 + 3 <= n1 && f2 >= 0 && f2 + 3 <= n2 && f3 >= 0 && f3 + 3 <= n3))
        throw new RangeError(`Gaussian centre ${first + k} lies outside the composition simplex`);
      w0[0] = 0.5 * (0.5 - t0) * (0.5 - t0);
      w0[1] = 0.75 - t0 * t0;
      w0[2] = 0.5 * (0.5 + t0) * (0.5 + t0);
      w1[0] = 0.5 * (0.5 - t1) * (0.5 - t1);
      w1[1] = 0.75 - t1 * t1;
      w1[2] = 0.5 * (0.5 + t1) * (0.5 + t1);
      w2[0] = 0.5 * (0.5 - t2) * (0.5 - t2);
      w2[1] = 0.75 - t2 * t2;
      w2[2] = 0.5 * (0.5 + t2) * (0.5 + t2);
      const l0 = 0.5 * (0.5 - t3) * (0.5 - t3);
      const l1 = 0.75 - t3 * t3;
      const l2 = 0.5 * (0.5 + t3) * (0.5 + t3);
      const scale = amplitudes[k]!;
      const base = f3 + f0 * s0 + f1 * s1 + f2 * s2;
      for (let q0 = 0; q0 < 3; q0++) {
        const p0 = scale * w0[q0]!;
        const b0 = base + q0 * s0;
        for (let q1 = 0; q1 < 3; q1++) {
          const p1 = p0 * w1[q1]!;
          const b1 = b0 + q1 * s1;
          for (let q2 = 0; q2 < 3; q2++) {
            const w = p1 * w2[q2]!;
            const b = b1 + q2 * s2;
            values[b]! += w * l0;
            values[b + 1]! += w * l1;
            values[b + 2]! += w * l2;
          }
        }
      }
    }
  }

  /**
   * Separable convolution along one axis, skipping line ends that are all zero, four lines at a
   * time (each kernel weight loaded once for four sums). The four share one span: a line's extra
   * terms there are zeros, which leave its sums as they are (+0 added to a sum; the values are
   * never -0), so every node gets the value of its own line's convolution.
   */
  private convolveAxis(axis: number, kernel: Float64Array): void {
    const n = this.lattice.shape[axis]!;
    const stride = this.lattice.strides[axis]!;
    const block = n * stride;
    const lines = this.lattice.nodes / n;
    const radius = (kernel.length - 1) / 2;
    const buf = new Float64Array(4 * n);
    const base = new Int32Array(4);
    const values = this.values;
    for (let l0 = 0; l0 < lines; l0 += 4) {
      const count = Math.min(4, lines - l0);
      let first = n;
      let last = -1;
      for (let q = 0; q < 4; q++) {
        if (q >= count) {
          buf.fill(0, q * n, (q + 1) * n);
          continue;
        }
        const l = l0 + q;
        const o = Math.floor(l / stride);
        const b = o * block + (l - o * stride);
        base[q] = b;
        for (let k = 0; k < n; k++) {
          const v = values[b + k * stride]!;
          buf[q * n + k] = v;
          if (v !== 0) {
            if (k < first) first = k;
            if (k > last) last = k;
          }
        }
      }
      if (last < 0) continue;
      const outLo = Math.max(0, first - radius);
      const outHi = Math.min(n - 1, last + radius);
      const b0 = base[0]!, b1 = base[1]!, b2 = base[2]!, b3 = base[3]!;
      for (let k = outLo; k <= outHi; k++) {
        const jLo = Math.max(first, k - radius);
        const jHi = Math.min(last, k + radius);
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        for (let j = jLo; j <= jHi; j++) {
          const w = kernel[j - k + radius]!;
          a0 += buf[j]! * w;
          a1 += buf[n + j]! * w;
          a2 += buf[2 * n + j]! * w;
          a3 += buf[3 * n + j]! * w;
        }
        const at = k * stride;
        values[b0 + at] = a0;
        if (count > 1) values[b1 + at] = a1;
        if (count > 2) values[b2 + at] = a2;
        if (count > 3) values[b3 + at] = a3;
      }
    }
  }

  /**
   * The superposition at composition c (any point of R^D near the simplex), or NaN when c is
   * outside the lattice. The component normal to the simplex plane is exact: the Gaussian
   * factorises across it.
   */
  evaluate(c: ArrayLike<number>): number {
    const z = toHelmert(c, this.u);
    const stencil = this.stencil;
    if (!stencil.place(this.u, 1)) return Number.NaN;
    const { index, weight, last, count } = stencil;
    const l0 = last[0]!, l1 = last[1]!, l2 = last[2]!, l3 = last[3]!;
    const values = this.values;
    let sum = 0;
    for (let e = 0; e < count; e++) {
      const b = index[e]!;
      sum += weight[e]! * (values[b]! * l0 + values[b + 1]! * l1 + values[b + 2]! * l2 + values[b + 3]! * l3);
    }
    const dz = z - 1 / Math.sqrt(this.D);
    return dz === 0 ? sum : sum * Math.exp(-(dz * dz) / (2 * this.sd * this.sd));
  }
}

/** (sd / sdKernel) exp(-x^2 / (2 sdKernel^2)) at x = t h: unit peak after the B-spline smoothing. */
function sampledKernel(sd: number, sdKernel: number, step: number): Float64Array {
  const radius = Math.ceil((KERNEL_CUTOFF_SD * sdKernel) / step);
  const kernel = new Float64Array(2 * radius + 1);
  for (let t = -radius; t <= radius; t++) {
    const x = t * step;
    kernel[t + radius] = (sd / sdKernel) * Math.exp(-(x * x) / (2 * sdKernel * sdKernel));
  }
  return kernel;
}
