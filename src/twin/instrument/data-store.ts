import { InstrumentError, type DataRecord, type DatasetRecord } from '../../protocol/instrument.js';
import { timestampKey } from '../../protocol/data.js';

/**
 * The twin's data server (Tiled on the real instrument): acquisitions by key. Keys carry the
 * virtual time of the acquisition (src/protocol/data.ts timestampKey), so a seeded run names its
 * data identically every time; two acquisitions in the same microsecond get the next free
 * microsecond, keeping the real server's key shape.
 *
 * A long session (a served twin) would otherwise grow without bound: past `maxBytes` of array
 * data the oldest records are dropped (never the newest), and reading one says so.
 */
export class DataStore {
  private readonly records = new Map<string, DataRecord>();
  private readonly evicted = new Set<string>();
  private bytes = 0;
  private readonly listeners: ((record: DataRecord) => void)[] = [];

  constructor(
    /** Array bytes kept before the oldest records are dropped (default 1 GiB). */
    readonly maxBytes = 2 ** 30,
    /** The data server's base URI, as DATA.get_config() gives it: `${uri}/${key}` names the file. */
    private uriBase = 'twin://data',
  ) {}

  /** Records read from now on carry `uri` (a served twin: the URL of its data route). */
  setUriBase(uri: string): void {
    this.uriBase = uri;
  }

  /** Calls `listener` with every record as it is stored (a served twin writes it to a file); in-process, nobody listens. */
  onStored(listener: (record: DataRecord) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Array bytes currently held. */
  get heldBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.records.size;
  }

  keys(): string[] {
    return [...this.records.keys()];
  }

  /** Stores an acquisition taken at virtual time t_s under a fresh key, and returns the key. */
  put(prefix: string, extension: '.h5' | '.tiff', t_s: number, attrs: Record<string, unknown>, datasets: DatasetRecord[]): string {
    let key = '';
    for (let bump = 0; ; bump++) {
      key = timestampKey(prefix, t_s + bump * 1e-6).replace(/\.h5$/, extension);
      if (!this.records.has(key) && !this.evicted.has(key)) break;
    }
    const stored: DataRecord = { key, uri: this.uriBase, format: extension === '.h5' ? 'hdf5' : 'tiff', attrs, datasets };
    this.records.set(key, stored);
    this.bytes += recordBytes(datasets);
    for (const [oldest, record] of this.records) {
      if (this.bytes <= this.maxBytes || oldest === key) break;
      this.records.delete(oldest);
      this.evicted.add(oldest);
      this.bytes -= recordBytes(record.datasets);
    }
    for (const listener of this.listeners) listener(stored);
    return key;
  }

  has(key: string): boolean {
    return this.records.has(key);
  }

  /** The record under `key`, or API_DataNotFound saying what keys look like and what is stored. */
  get(key: string): DataRecord {
    const record = this.records.get(key);
    if (record) return record.uri === this.uriBase ? record : { ...record, uri: this.uriBase };
    if (this.evicted.has(key)) {
      throw new InstrumentError(
        'API_DataEvicted',
        `the data under "${key}" was dropped: the store keeps the latest ${(this.maxBytes / 2 ** 20).toFixed(0)} MiB of acquisitions; read data back soon after acquiring it.`,
        'DATA.get_data_from_key',
      );
    }
    const latest = [...this.records.keys()].slice(-3);
    throw new InstrumentError(
      'API_DataNotFound',
      `no data under key "${key}". Keys are returned by the acquisition commands, e.g. "stem_image_HAADF_20260101T000012345678.h5"; ` +
        (latest.length ? `${this.records.size} stored, the latest: ${latest.join(', ')}.` : 'nothing has been acquired yet.'),
      'DATA.get_data_from_key',
    );
  }
}

function recordBytes(datasets: readonly DatasetRecord[]): number {
  let n = 0;
  for (const d of datasets) n += d.values.byteLength;
  return n;
}
