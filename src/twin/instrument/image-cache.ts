import type { DatasetRecord } from '../../protocol/instrument.js';

/**
 * The latest images, for get_image_data_cached: the real server keeps the last few frames in
 * memory so that a client can fetch one without the data server. Bounded: past IMAGE_CACHE_SIZE
 * the oldest is dropped. Holds references to the stored datasets (no copy); encodes on read.
 */
export const IMAGE_CACHE_SIZE = 8;

export class ImageCache {
  private readonly images: DatasetRecord[] = [];

  /** Remembers the first image (2-D dataset) of an acquisition, if it has one. */
  add(datasets: readonly DatasetRecord[]): void {
    const image = datasets.find((d) => d.shape.length === 2);
    if (!image) return;
    this.images.unshift(image);
    if (this.images.length > IMAGE_CACHE_SIZE) this.images.pop();
  }

  get size(): number {
    return this.images.length;
  }

  /** The index-th latest image (0 = the latest), or undefined. */
  at(index: number): DatasetRecord | undefined {
    return this.images[index];
  }
}

/** Tango DevEncoded of an image: [format, base64 of its values as little-endian float32, row-major]. */
export function encodeImage(d: DatasetRecord): [string, string] {
  const [rows, cols] = d.shape as [number, number];
  const f32 = Float32Array.from(d.values);
  const bytes = Buffer.alloc(f32.length * 4);
  for (let i = 0; i < f32.length; i++) bytes.writeFloatLE(f32[i]!, i * 4);
  return [`float32 LE ${rows}x${cols}`, bytes.toString('base64')];
}
