import { InstrumentError, type DataRecord, type DatasetRecord } from '../../protocol/instrument.js';
import { timestampKey } from '../../protocol/data.js';

/**
 * The twin's data server (Tiled on the real instrument): acquisitions by key. Keys carry the
 * virtual time of the acquisition (src/protocol/data.ts timestampKey), so a seeded run names its
 * data identically every time; two acquisitions in the same microsecond get the next free
 * microsecond, keeping the real server's key shape.
 */
export class DataStore {
  private readonly records = new Map<string, DataRecord>();

  constructor(private readonly uriBase = 'twin://data/') {}

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
      if (!this.records.has(key)) break;
    }
    this.records.set(key, { key, uri: `${this.uriBase}${key}`, format: extension === '.h5' ? 'hdf5' : 'tiff', attrs, datasets });
    return key;
  }

  has(key: string): boolean {
    return this.records.has(key);
  }

  /** The record under `key`, or API_DataNotFound saying what keys look like and what is stored. */
  get(key: string): DataRecord {
    const record = this.records.get(key);
    if (record) return record;
    const latest = [...this.records.keys()].slice(-3);
    throw new InstrumentError(
      'API_DataNotFound',
      `no data under key "${key}". Keys are returned by the acquisition commands, e.g. "stem_image_HAADF_20260101T000012345678.h5"; ` +
        (latest.length ? `${this.records.size} stored, the latest: ${latest.join(', ')}.` : 'nothing has been acquired yet.'),
      'DATA.get_data_from_key',
    );
  }
}
