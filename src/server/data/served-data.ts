import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Twin } from '../../twin/index.js';
import { DataDevice } from './data-device.js';
import { DataFiles } from './data-files.js';
import { hdf5Library } from './hdf5-writer.js';

export interface ServedData {
  device: DataDevice;
  /**
   * Writes the acquisitions of `twin` from now on. On a reset (a second twin attached) the files so
   * far move to `before-reset-<n>/` under the save path: the new twin's keys start over.
   */
  attach(twin: Twin): void;
  /** Waits for queued writes; removes the data directory if it was a temporary one made here. */
  close(): Promise<void>;
}

/** A fresh directory for one served twin's files, under the OS temp dir. */
export function freshDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'stem-twin-data-'));
}

/**
 * The data side of a served twin: every acquisition the twin stores is written to the save path
 * (dataDir, or a temporary directory removed on close), and records carry the DATA uri.
 */
export async function servedData(opts: { host: string; port: number; dataDir?: string }): Promise<ServedData> {
  // Loading h5wasm takes ~1.5 s once per process: start now, so the first acquisition's file does not wait for it.
  hdf5Library().catch(() => undefined);
  const temporary = opts.dataDir === undefined;
  const files = new DataFiles(temporary ? await freshDataDir() : resolve(opts.dataDir!));
  if (!temporary) await files.setSavePath(files.savePath, 'serve --data-dir');
  let current: Twin | undefined;
  let resets = 0;
  let unhook = (): void => undefined;
  const device = new DataDevice(files, { host: opts.host, port: opts.port, now_s: () => current?.sim.now ?? 0, onUri: (uri) => current?.twin.data.setUriBase(uri) });
  const madeDir = files.savePath;
  return {
    device,
    attach(twin) {
      unhook();
      if (current !== undefined) void files.archive(`before-reset-${++resets}`);
      current = twin;
      twin.twin.data.setUriBase(device.uri);
      unhook = twin.twin.data.onStored((record) => files.written(record));
    },
    close: async () => {
      unhook();
      await files.drain();
      if (temporary) await rm(madeDir, { recursive: true, force: true });
    },
  };
}
