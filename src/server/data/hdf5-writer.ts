import type { DataRecord, DatasetRecord } from '../../protocol/instrument.js';

/**
 * One acquisition as an HDF5 file in the real server's layout (README "Data files"): the
 * record's attrs on the file's root, one dataset per DatasetRecord under its name
 * (`image/HAADF`, `image/EDS_Au`, `spectrum`, ...) with that dataset's attrs and its declared
 * dtype. Attrs are written generically, whatever a record carries: numbers as float64, number
 * lists as float64 arrays, strings and string lists as text, booleans as int8 0/1, anything else
 * (objects, mixed lists, null) as its JSON text.
 */

type H5 = (typeof import('h5wasm/node'))['default'];
type HasAttrs = { create_attribute(name: string, data: unknown, shape?: number[] | null, dtype?: string | null): void };

let loading: Promise<H5> | undefined;

/** h5wasm (4 MB of wasm) is loaded on the first write: in-process campaigns write nothing and never load it. */
export function hdf5Library(): Promise<H5> {
  return (loading ??= import('h5wasm/node').then(async (m) => {
    await m.default.ready;
    return m.default;
  }));
}

/** h5wasm's type codes (struct-module style: '<d' is float64, '<f8' would not be). */
const H5_DTYPE: Record<DatasetRecord['dtype'], string> = { float64: '<d', float32: '<f', uint32: '<I', uint16: '<H' };

/** Writes `record` to `path` (replacing a file there). Throws when a value does not fit its declared dtype. */
export async function writeHdf5(path: string, record: DataRecord): Promise<void> {
  const h5 = await hdf5Library();
  // Convert first: a record that cannot be written leaves no half-written file behind.
  const arrays = record.datasets.map((d) => storedValues(record.key, d));
  const file = new h5.File(path, 'w');
  try {
    writeAttrs(file as unknown as HasAttrs, record.attrs);
    const groups = new Set<string>();
    record.datasets.forEach((d, i) => {
      makeGroups(file, d.name, groups);
      const dataset = file.create_dataset({ name: d.name, data: arrays[i]!, shape: d.shape, dtype: H5_DTYPE[d.dtype] });
      writeAttrs(dataset as unknown as HasAttrs, d.attrs);
    });
  } finally {
    file.close();
  }
}

/** HDF5 does not create intermediate groups: `image/HAADF` needs `image` first. */
function makeGroups(file: InstanceType<H5['File']>, name: string, made: Set<string>): void {
  const parts = name.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const group = parts.slice(0, i).join('/');
    if (made.has(group)) continue;
    file.create_group(group);
    made.add(group);
  }
}

/** The twin holds every dataset as float64; the file stores it as declared. Integer data must be whole and in range. */
function storedValues(key: string, d: DatasetRecord): Float64Array | Float32Array | Uint32Array | Uint16Array {
  const expected = d.shape.reduce((a, b) => a * b, 1);
  if (expected !== d.values.length) throw new Error(`${key}: dataset ${d.name} has ${d.values.length} values for shape [${d.shape.join(', ')}]`);
  if (d.dtype === 'float64') return d.values;
  if (d.dtype === 'float32') return Float32Array.from(d.values);
  const max = d.dtype === 'uint32' ? 0xffffffff : 0xffff;
  const out = d.dtype === 'uint32' ? new Uint32Array(d.values.length) : new Uint16Array(d.values.length);
  for (let i = 0; i < d.values.length; i++) {
    const v = d.values[i]!;
    // A typed array would wrap 70000 into a uint16 silently: refuse instead.
    if (!(Number.isInteger(v) && v >= 0 && v <= max)) throw new Error(`${key}: dataset ${d.name} is ${d.dtype} but value ${i} is ${v}`);
    out[i] = v;
  }
  return out;
}

function writeAttrs(target: HasAttrs, attrs: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined) continue;
    if (typeof value === 'number') target.create_attribute(name, value, null, '<d');
    else if (typeof value === 'string') target.create_attribute(name, value);
    else if (typeof value === 'boolean') target.create_attribute(name, new Int8Array([value ? 1 : 0]), [], '|b1');
    else if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number')) target.create_attribute(name, Float64Array.from(value), [value.length], '<d');
    else if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) target.create_attribute(name, value);
    else target.create_attribute(name, JSON.stringify(value));
  }
}
