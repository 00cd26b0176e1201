import { dataset, type DataRecord, type DatasetRecord } from '../../protocol/instrument.js';

/** Reading acquisitions back: datasets and the attrs the analysis needs, with errors that name what is missing. */

export interface ImageGeometry {
  rows: number;
  cols: number;
  pixel_m: number;
  /** Specimen coordinates (m) of the top-left corner of pixel (0, 0). */
  left_m: number;
  top_m: number;
  fov_m: number;
  center_m: [number, number];
}

function num(d: DatasetRecord, key: string, record: DataRecord): number {
  const v = d.attrs[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`data ${record.key}: dataset "${d.name}" attr ${key} must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

function pair(d: DatasetRecord, key: string, record: DataRecord): [number, number] {
  const v = d.attrs[key];
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)))
    throw new Error(`data ${record.key}: dataset "${d.name}" attr ${key} must be [x, y] numbers, got ${JSON.stringify(v)}`);
  return [v[0] as number, v[1] as number];
}

export function attrNumber(record: DataRecord, d: DatasetRecord, key: string): number {
  return num(d, key, record);
}

/** An image dataset, checked: 2-D, values matching its shape. */
export function imageDataset(record: DataRecord, name: string): DatasetRecord {
  if (!record || !Array.isArray(record.datasets)) throw new TypeError(`data: expected a DataRecord with datasets, got ${String(record)}`);
  const d = dataset(record, name);
  if (d.shape.length !== 2) throw new Error(`data ${record.key}: dataset "${name}" must be an image [rows, cols], got shape [${d.shape.join(', ')}]`);
  const [r, c] = d.shape as [number, number];
  if (d.values.length !== r * c) throw new Error(`data ${record.key}: dataset "${name}" has ${d.values.length} values for shape [${r}, ${c}]`);
  return d;
}

/**
 * Pixel geometry of an image (src/protocol/data.ts): pixel (i, j) is centred at
 * left + (j + 0.5) px, top + (i + 0.5) px, with left/top = centre - fov / 2. A cropped scan keeps
 * the field attrs of the square it was cut from, so the same formula holds.
 */
export function imageGeometry(record: DataRecord, d: DatasetRecord): ImageGeometry {
  const pixel_m = num(d, 'pixel_size_m', record);
  const fov_m = num(d, 'fov_m', record);
  const center_m = pair(d, 'center_m', record);
  if (!(pixel_m > 0 && fov_m > 0)) throw new Error(`data ${record.key}: dataset "${d.name}" needs pixel_size_m and fov_m > 0`);
  return { rows: d.shape[0]!, cols: d.shape[1]!, pixel_m, fov_m, center_m, left_m: center_m[0] - fov_m / 2, top_m: center_m[1] - fov_m / 2 };
}

/** The spectrum dataset and its energy axis: channel i is centred at offset + i x dispersion. */
export function spectrumDataset(record: DataRecord, detector: 'eds' | 'eels'): { d: DatasetRecord; offset_eV: number; dispersion_eV: number } {
  if (!record || !Array.isArray(record.datasets)) throw new TypeError(`data: expected a DataRecord with datasets, got ${String(record)}`);
  const d = dataset(record, 'spectrum');
  if (d.shape.length !== 1 || d.values.length !== d.shape[0]) throw new Error(`data ${record.key}: dataset "spectrum" must be 1-D with matching values, got shape [${d.shape.join(', ')}]`);
  if (d.attrs.detector !== undefined && d.attrs.detector !== detector)
    throw new Error(`data ${record.key}: expected a spectrum from detector "${detector}", got "${String(d.attrs.detector)}"`);
  const dispersion_eV = num(d, 'dispersion_eV', record);
  if (!(dispersion_eV > 0)) throw new Error(`data ${record.key}: spectrum attr dispersion_eV must be > 0, got ${dispersion_eV}`);
  return { d, offset_eV: num(d, 'offset_eV', record), dispersion_eV };
}
