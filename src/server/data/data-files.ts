import { createReadStream, type ReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InstrumentError, shown, type DataRecord } from '../../protocol/instrument.js';
import { writeHdf5 } from './hdf5-writer.js';

/** A data key names a file under the save path: segments of letters, digits, _ - . joined by '/', none starting with '.'. */
const KEY_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
const MAX_KEY_LENGTH = 500;

/** The HDF5 signature; the superblock sits at 0, 512, 1024, 2048, ... (a user block may precede it). */
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
const SIGNATURE_OFFSETS = [0, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

/** Files register_save_path looks at, at most (a save path is a data directory, not a disk). */
const MAX_SCAN_ENTRIES = 10_000;

/** Why `key` cannot be a data key, or undefined when it can. Keys never contain '..', '\', or an absolute path. */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) return `a data key is a string of 1 to ${MAX_KEY_LENGTH} characters, got ${shown(key)}`;
  if (!key.split('/').every((s) => KEY_SEGMENT.test(s))) {
    return `${shown(key)} is not a data key: keys are file names under the save path (letters, digits, _ - . and / between folders; no segment starting with ".")`;
  }
  return undefined;
}

export async function isHdf5File(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(HDF5_SIGNATURE.length);
    for (const offset of SIGNATURE_OFFSETS) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead < buffer.length) return false;
      if (buffer.equals(HDF5_SIGNATURE)) return true;
    }
    return false;
  } finally {
    await handle.close();
  }
}

export interface OpenedFile {
  key: string;
  path: string;
  size: number;
  stream: ReadStream;
}

export interface SaveReport {
  save_path: string;
  registered: string[];
  /** Files under the save path that are not HDF5 or whose names cannot be keys, with why. */
  skipped: { path: string; reason: string }[];
}

/**
 * The served twin's data files: every acquisition the twin stores is written as `<save
 * path>/<key>` (HDF5, hdf5-writer.ts), and files registered by DATA.register_path are served
 * under their keys. Writes run one at a time in the order the records were stored, each after
 * the command that made it has replied (the beam queue does not wait for the disk); reading a
 * key waits for its write.
 */
export class DataFiles {
  /** key -> absolute path of the file served under it. */
  private readonly files = new Map<string, string>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly failures = new Map<string, string>();
  /** Keys of the acquisitions written here (not registered files). */
  private readonly acquired = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  private writes = 0;

  constructor(private dir: string) {}

  /** Where new acquisitions are written and under which register_path accepts files. */
  get savePath(): string {
    return this.dir;
  }

  /** Acquisitions written so far (failed ones included). */
  get writtenCount(): number {
    return this.writes;
  }

  /** Makes `dir` the save path (created if missing); an invalid one leaves the save path as it was. */
  async setSavePath(dir: string, origin: string): Promise<void> {
    if (typeof dir !== 'string' || dir.length === 0 || dir.length > 4096 || dir.includes('\0')) {
      throw new InstrumentError('API_InvalidArgument', `save_path must be a directory path, got ${shown(dir)}`, origin);
    }
    if (!isAbsolute(dir)) throw new InstrumentError('API_InvalidArgument', `save_path must be an absolute path, got ${shown(dir)}`, origin);
    try {
      await mkdir(dir, { recursive: true });
      if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    } catch (e) {
      throw new InstrumentError('API_InvalidArgument', `save_path ${shown(dir)} is not a usable directory: ${(e as Error).message}`, origin);
    }
    this.dir = resolve(dir);
  }

  /** Queues the file of a stored acquisition (TIFF output is kept in memory only: the twin writes HDF5). */
  written(record: DataRecord): void {
    if (record.format !== 'hdf5') return;
    const path = join(this.dir, record.key);
    const write = this.chain.then(async () => {
      // Let the command's reply (and whatever else is ready) go out before the disk work.
      await new Promise((r) => setImmediate(r));
      const partial = `${path}.partial`;
      try {
        await writeHdf5(partial, record);
        await rename(partial, path);
        this.files.set(record.key, path);
        this.acquired.add(record.key);
      } catch (e) {
        this.failures.set(record.key, (e as Error).message);
        await rm(partial, { force: true });
      } finally {
        this.writes++;
        this.pending.delete(record.key);
      }
    });
    this.pending.set(record.key, write);
    this.chain = write;
  }

  /**
   * Moves the files written so far into the subdirectory `label` of the save path, after the
   * queued writes, and stops serving them. A reset twin's clock starts at zero again and so names
   * its data with the keys of the first twin: without this, its files would overwrite those.
   */
  archive(label: string): Promise<void> {
    // Registered files stay where they are and stay served.
    const archived = this.chain.then(async () => {
      const dir = join(this.dir, label);
      await mkdir(dir, { recursive: true });
      for (const key of this.acquired) {
        const path = this.files.get(key);
        if (path === undefined) continue;
        await mkdir(dirname(join(dir, key)), { recursive: true });
        await rename(path, join(dir, key)).catch(() => undefined);
        this.files.delete(key);
      }
      this.acquired.clear();
      this.failures.clear();
    });
    this.chain = archived;
    return archived;
  }

  /** Resolves when every queued write has finished. */
  drain(): Promise<void> {
    return this.chain;
  }

  /** The file under `key`, opened for reading, after its write finished; API_DataNotFound if there is none. */
  async open(key: string, origin: string): Promise<OpenedFile> {
    const problem = keyProblem(key);
    if (problem) throw new InstrumentError('API_InvalidArgument', problem, origin);
    await this.pending.get(key);
    const failure = this.failures.get(key);
    if (failure) throw new InstrumentError('DataWriteFailed', `the file of ${key} could not be written: ${failure}`, origin);
    const path = this.files.get(key);
    if (!path) {
      throw new InstrumentError('API_DataNotFound', `no data file under key ${shown(key)}: keys are those the acquisition commands return, or that DATA.register_path returned.`, origin);
    }
    try {
      const size = (await stat(path)).size;
      return { key, path, size, stream: createReadStream(path) };
    } catch {
      throw new InstrumentError('API_DataNotFound', `the file of ${key} is no longer at ${path}.`, origin);
    }
  }

  /**
   * Registers an existing HDF5 file under the save path and returns its key (its path relative
   * to the save path). A relative `path` is taken relative to the save path.
   */
  async register(path: unknown, origin: string): Promise<string> {
    if (typeof path !== 'string' || path.length === 0 || path.length > 4096 || path.includes('\0')) {
      throw new InstrumentError('API_InvalidArgument', `path must be a file path, got ${shown(path)}`, origin);
    }
    let real: string;
    try {
      real = await realpath(resolve(this.dir, path));
    } catch {
      throw new InstrumentError('API_InvalidArgument', `no file at ${shown(path)} (relative paths are taken from the save path ${this.dir}).`, origin);
    }
    const root = await realpath(this.dir);
    const inside = relative(root, real);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
      throw new InstrumentError('API_InvalidArgument', `${shown(path)} is outside the save path ${this.dir}: only files under it are served (copy_and_register_remote_file copies one in).`, origin);
    }
    if (!(await stat(real)).isFile()) throw new InstrumentError('API_InvalidArgument', `${shown(path)} is not a file.`, origin);
    const key = inside.split(sep).join('/');
    const problem = keyProblem(key);
    if (problem) throw new InstrumentError('API_InvalidArgument', `${shown(path)} cannot be served: ${problem}`, origin);
    if (!(await isHdf5File(real))) throw new InstrumentError('API_InvalidArgument', `${shown(path)} is not an HDF5 file (no HDF5 signature).`, origin);
    this.files.set(key, real);
    this.failures.delete(key);
    return key;
  }

  /** Registers every HDF5 file under the save path; reports what it skipped and why. */
  async registerAll(origin: string): Promise<SaveReport> {
    const report: SaveReport = { save_path: this.dir, registered: [], skipped: [] };
    const entries = (await readdir(this.dir, { recursive: true, withFileTypes: true })).slice(0, MAX_SCAN_ENTRIES);
    for (const entry of entries.filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.endsWith('.partial')).sort((a, b) => join(a.parentPath, a.name).localeCompare(join(b.parentPath, b.name)))) {
      const path = join(entry.parentPath, entry.name);
      try {
        report.registered.push(await this.register(path, origin));
      } catch (e) {
        report.skipped.push({ path: relative(this.dir, path), reason: e instanceof InstrumentError ? e.description : (e as Error).message });
      }
    }
    return report;
  }

  /** Copies an HDF5 file into the save path (as `name`, default its own file name) and registers it. Never overwrites. */
  async copyIn(source: unknown, name: unknown, origin: string): Promise<string> {
    if (typeof source !== 'string' || source.length === 0 || source.length > 4096 || source.includes('\0') || !isAbsolute(source)) {
      throw new InstrumentError('API_InvalidArgument', `source_path must be an absolute file path, got ${shown(source)}`, origin);
    }
    const fileName = name ?? source.split(/[\\/]/).pop();
    const problem = keyProblem(fileName);
    if (problem || String(fileName).includes('/')) throw new InstrumentError('API_InvalidArgument', `name: ${problem ?? `${shown(fileName)} must be a plain file name`}`, origin);
    try {
      if (!(await stat(source)).isFile()) throw new Error('not a file');
    } catch {
      throw new InstrumentError('API_InvalidArgument', `source_path ${shown(source)} is not a readable file.`, origin);
    }
    if (!(await isHdf5File(source))) throw new InstrumentError('API_InvalidArgument', `source_path ${shown(source)} is not an HDF5 file (no HDF5 signature).`, origin);
    const target = join(this.dir, fileName as string);
    try {
      await copyFile(source, target, 1 /* COPYFILE_EXCL */);
    } catch (e) {
      const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
      throw new InstrumentError('API_InvalidArgument', exists ? `${fileName as string} already exists in the save path; pass another "name".` : `copying ${shown(source)} failed: ${(e as Error).message}`, origin);
    }
    return this.register(target, origin);
  }
}
