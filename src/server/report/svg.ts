/**
 * A few dependency-free SVG plots for the campaign report: axes with ticks, line series,
 * scatter points, polylines and dashed markers. Enough for the paper's figures, no more.
 */

export interface Frame {
  width: number;
  height: number;
  x: [number, number];
  y: [number, number];
  margin?: { left: number; right: number; top: number; bottom: number };
}

export const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const f = (v: number) => (Math.round(v * 100) / 100).toString();

/** Maps data coordinates into the plot area of a frame. */
export class Axes {
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
  private readonly parts: string[] = [];

  constructor(readonly frame: Frame) {
    const m = frame.margin ?? { left: 64, right: 16, top: 28, bottom: 44 };
    this.left = m.left;
    this.right = frame.width - m.right;
    this.top = m.top;
    this.bottom = frame.height - m.bottom;
  }

  px(x: number): number {
    const [a, b] = this.frame.x;
    return this.left + ((x - a) / (b - a || 1)) * (this.right - this.left);
  }

  py(y: number): number {
    const [a, b] = this.frame.y;
    return this.bottom - ((y - a) / (b - a || 1)) * (this.bottom - this.top);
  }

  add(svg: string): this {
    this.parts.push(svg);
    return this;
  }

  axes(title: string, xLabel: string, yLabel: string): this {
    const { left, right, top, bottom } = this;
    this.add(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#999"/>`);
    for (const t of niceTicks(this.frame.x[0], this.frame.x[1])) {
      const x = f(this.px(t));
      this.add(`<line x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 4}" stroke="#999"/><text x="${x}" y="${bottom + 16}" text-anchor="middle">${fmt(t)}</text>`);
    }
    for (const t of niceTicks(this.frame.y[0], this.frame.y[1])) {
      const y = f(this.py(t));
      this.add(`<line x1="${left - 4}" x2="${left}" y1="${y}" y2="${y}" stroke="#999"/><text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
    }
    this.add(`<text x="${(left + right) / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
    this.add(`<text x="${(left + right) / 2}" y="${this.frame.height - 8}" text-anchor="middle">${esc(xLabel)}</text>`);
    this.add(`<text transform="translate(14 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
    return this;
  }

  line(xs: ArrayLike<number>, ys: ArrayLike<number>, color: string, opts: { width?: number; dash?: string; label?: string } = {}): this {
    const pts: string[] = [];
    for (let i = 0; i < xs.length; i++) if (Number.isFinite(ys[i]!)) pts.push(`${f(this.px(xs[i]!))},${f(this.py(ys[i]!))}`);
    if (pts.length) this.add(`<polyline fill="none" stroke="${color}" stroke-width="${opts.width ?? 1.5}"${opts.dash ? ` stroke-dasharray="${opts.dash}"` : ''} points="${pts.join(' ')}"><title>${esc(opts.label ?? '')}</title></polyline>`);
    return this;
  }

  points(xs: ArrayLike<number>, ys: ArrayLike<number>, colors: string | string[], r = 2.5, titles?: string[]): this {
    for (let i = 0; i < xs.length; i++) {
      const c = typeof colors === 'string' ? colors : colors[i]!;
      const t = titles?.[i] ? `<title>${esc(titles[i]!)}</title>` : '';
      this.add(`<circle cx="${f(this.px(xs[i]!))}" cy="${f(this.py(ys[i]!))}" r="${r}" fill="${c}">${t}</circle>`);
    }
    return this;
  }

  /** Dashed vertical markers (region changes). */
  vlines(xs: number[], color = '#c33'): this {
    for (const x of xs) this.add(`<line x1="${f(this.px(x))}" x2="${f(this.px(x))}" y1="${this.top}" y2="${this.bottom}" stroke="${color}" stroke-dasharray="4 3" stroke-width="0.8"/>`);
    return this;
  }

  legend(items: { label: string; color: string }[]): this {
    items.forEach((it, i) => {
      const y = this.top + 14 + i * 16;
      this.add(`<rect x="${this.right - 150}" y="${y - 8}" width="10" height="10" fill="${it.color}"/><text x="${this.right - 134}" y="${y}" dominant-baseline="middle">${esc(it.label)}</text>`);
    });
    return this;
  }

  toString(): string {
    const { width, height } = this.frame;
    return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" style="max-width:${width}px" font-family="sans-serif" font-size="11">${this.parts.join('')}</svg>`;
  }
}

/** About five round tick values covering [a, b]. */
export function niceTicks(a: number, b: number, count = 5): number[] {
  if (!(b > a)) return [a];
  const raw = (b - a) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(a / step) * step; t <= b + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(0);
  return Number(v.toPrecision(3)).toString();
}

/** Padded [min, max] of finite values. */
export function extent(values: Iterable<number>, pad = 0.05): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - 1, hi + 1];
  const d = (hi - lo) * pad;
  return [lo - d, hi + d];
}

/** A colour from blue (t = 0) to yellow (t = 1), viridis-like. */
export function ramp(t: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const u = x - i;
  const c = stops[i]!.map((v, k) => Math.round(v + (stops[i + 1]![k]! - v) * u));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/**
 * Ternary coordinates: a composition (a, b, c) to a point of the unit-side triangle with
 * corners A (0, 0), B (1, 0), C (1/2, sqrt(3)/2).
 */
export function ternaryXY(c: ArrayLike<number>): [number, number] {
  const s = c[0]! + c[1]! + c[2]!;
  const b = c[1]! / s;
  const cc = c[2]! / s;
  return [b + cc / 2, (cc * Math.sqrt(3)) / 2];
}
