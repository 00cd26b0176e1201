import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { RegionGrid } from '../../src/policy/campaign/regions.js';

describe('RegionGrid', () => {
  const grid = new RegionGrid([300, 300], 30);

  it("tiles the paper's 300 um area into 10 x 10 regions of 30 um, centred on the stage origin", () => {
    expect(grid.regions).toHaveLength(100);
    expect(grid.get(0, 0)!.center_m[0]).toBeCloseTo(-135e-6, 12);
    expect(grid.get(9, 9)!.center_m[1]).toBeCloseTo(135e-6, 12);
    expect(grid.distance_um(grid.get(0, 0)!, grid.get(1, 0)!)).toBeCloseTo(30, 9);
  });

  test.prop([fc.double({ min: -150e-6, max: 149.9e-6, noNaN: true }), fc.double({ min: -150e-6, max: 149.9e-6, noNaN: true })])(
    'the region containing a point has it within half a region of its centre',
    (x, y) => {
      const r = grid.containing(x, y);
      expect(Math.abs(r.center_m[0] - x)).toBeLessThanOrEqual(15e-6 + 1e-12);
      expect(Math.abs(r.center_m[1] - y)).toBeLessThanOrEqual(15e-6 + 1e-12);
    },
  );

  it('neighbours are the 8 surrounding regions', () => {
    const c = grid.get(4, 4)!;
    expect(grid.regions.filter((r) => grid.areNeighbours(c, r))).toHaveLength(8);
    expect(grid.regions.filter((r) => grid.areNeighbours(grid.get(0, 0)!, r))).toHaveLength(3);
  });

  it('the raster order visits every region once, each step to a neighbour', () => {
    const order = grid.rasterOrder();
    expect(new Set(order.map((r) => r.id)).size).toBe(100);
    for (let i = 1; i < order.length; i++) expect(grid.areNeighbours(order[i - 1]!, order[i]!)).toBe(true);
  });

  it('refuses a non-positive region size by name', () => {
    expect(() => new RegionGrid([300, 300], 0)).toThrow(/region_um/);
  });
});
