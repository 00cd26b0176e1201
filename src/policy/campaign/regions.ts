/**
 * The accessible area tiled into square regions of the beam-shift range: inside a region the
 * beam reaches every particle by beam shift; between regions the stage must move.
 */
export interface Region {
  id: string;
  ix: number;
  iy: number;
  /** Stage position (m) that centres the field on the region. */
  center_m: [number, number];
  area_um2: number;
}

export class RegionGrid {
  readonly nx: number;
  readonly ny: number;
  readonly regions: Region[];
  private readonly size_m: number;
  private readonly origin_m: [number, number];

  constructor(area_um: [number, number], region_um: number) {
    if (!(region_um > 0)) throw new RangeError(`region_um must be > 0, got ${region_um}`);
    this.nx = Math.max(1, Math.floor(area_um[0] / region_um + 1e-9));
    this.ny = Math.max(1, Math.floor(area_um[1] / region_um + 1e-9));
    this.size_m = region_um * 1e-6;
    // Centre the tiling on the area; a remainder narrower than a region is left unvisited.
    this.origin_m = [(-this.nx * this.size_m) / 2, (-this.ny * this.size_m) / 2];
    this.regions = [];
    for (let iy = 0; iy < this.ny; iy++) {
      for (let ix = 0; ix < this.nx; ix++) {
        this.regions.push({
          id: `r${ix}_${iy}`,
          ix,
          iy,
          center_m: [this.origin_m[0] + (ix + 0.5) * this.size_m, this.origin_m[1] + (iy + 0.5) * this.size_m],
          area_um2: region_um * region_um,
        });
      }
    }
  }

  get(ix: number, iy: number): Region | undefined {
    return ix >= 0 && iy >= 0 && ix < this.nx && iy < this.ny ? this.regions[iy * this.nx + ix] : undefined;
  }

  byId(id: string): Region {
    const r = this.regions.find((x) => x.id === id);
    if (!r) throw new Error(`no region "${id}"`);
    return r;
  }

  /** The region whose square holds the point (m), clamped to the grid. */
  containing(x_m: number, y_m: number): Region {
    const clamp = (v: number, n: number) => Math.min(n - 1, Math.max(0, v));
    return this.get(clamp(Math.floor((x_m - this.origin_m[0]) / this.size_m), this.nx), clamp(Math.floor((y_m - this.origin_m[1]) / this.size_m), this.ny))!;
  }

  /** Stage distance between two regions' centres, um. */
  distance_um(a: Region, b: Region): number {
    return Math.hypot(a.center_m[0] - b.center_m[0], a.center_m[1] - b.center_m[1]) * 1e6;
  }

  /** True when b touches a (8-neighbourhood). */
  areNeighbours(a: Region, b: Region): boolean {
    return a !== b && Math.abs(a.ix - b.ix) <= 1 && Math.abs(a.iy - b.iy) <= 1;
  }

  /** Serpentine (boustrophedon) raster order, for the exhaustive baseline. */
  rasterOrder(): Region[] {
    const out: Region[] = [];
    for (let iy = 0; iy < this.ny; iy++) {
      for (let k = 0; k < this.nx; k++) out.push(this.get(iy % 2 === 0 ? k : this.nx - 1 - k, iy)!);
    }
    return out;
  }
}
