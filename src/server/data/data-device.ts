import { commandNotFound, findCommand } from '../../protocol/commands.js';
import { InstrumentError, shown, type CommandOutcome } from '../../protocol/instrument.js';
import type { DataFiles } from './data-files.js';

/** The route the served twin's files are under: GET `${DATA_ROUTE}/<key>`. */
export const DATA_ROUTE = '/data';

/** What DATA.get_config returns (the real device's keys). */
export interface DataConfig {
  host: string;
  port: number;
  /** Files are at `${uri}/${key}`; also the `uri` of every get_data_from_key result. */
  uri: string;
  save_path: string;
  /** The twin's file route stands in for the Tiled server: its base URL. */
  tiled_server: string;
  tiled_server_status: 'running' | 'stopped';
  /** The directory being served, or "" while stopped. */
  tiled_server_serving: string;
}

const CONFIG_KEYS = ['host', 'port', 'save_path'] as const;

/** A host name or address as a URL carries it: letters, digits, . - and, for IPv6, : inside brackets. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*|\[[0-9A-Fa-f:.]+\])$/;

export interface DataDeviceOptions {
  /** The host and port the server listens on (what the URL names until configure changes it). */
  host: string;
  port: number;
  /** The instrument's clock: DATA commands take no beam time and are stamped with the current time. */
  now_s: () => number;
  /** Told every new uri (the data store stamps records with it). */
  onUri?: (uri: string) => void;
}

/**
 * The DATA device of a served twin (the real one runs a Tiled server over its save path). Its
 * commands never touch the beam: they answer at once, at the instrument's current time. For the
 * twin, host and port only describe the URL that get_config and get_data_from_key report (a name
 * clients reach the server by, e.g. through a proxy); the server keeps listening where it started.
 */
export class DataDevice {
  private host: string;
  private port: number;
  private serving = true;

  constructor(
    readonly files: DataFiles,
    private readonly opts: DataDeviceOptions,
  ) {
    this.host = bracketed(opts.host);
    this.port = opts.port;
    opts.onUri?.(this.uri);
  }

  /** The address the server actually bound (port 0 picks one at listen time). */
  listening(host: string, port: number): void {
    this.host = bracketed(host);
    this.port = port;
    this.opts.onUri?.(this.uri);
  }

  get uri(): string {
    return `http://${this.host}:${this.port}${DATA_ROUTE}`;
  }

  /** False after stop_tiled_server: the file route answers 503 until start_tiled_server. */
  get isServing(): boolean {
    return this.serving;
  }

  config(): DataConfig {
    return {
      host: this.host,
      port: this.port,
      uri: this.uri,
      save_path: this.files.savePath,
      tiled_server: `http://${this.host}:${this.port}`,
      tiled_server_status: this.serving ? 'running' : 'stopped',
      tiled_server_serving: this.serving ? this.files.savePath : '',
    };
  }

  /** Runs one DATA command (its argument already checked against the command table). */
  async execute(command: string, arg: unknown): Promise<CommandOutcome> {
    const origin = `DATA.${command}`;
    if (!findCommand('DATA', command)) throw commandNotFound('DATA', command, origin);
    const value = await this.run(command, arg, origin);
    const t_s = this.opts.now_s();
    return { value, start_s: t_s, end_s: t_s, breakdown_s: {} };
  }

  private async run(command: string, arg: unknown, origin: string): Promise<unknown> {
    switch (command) {
      case 'State':
        return 'ON';
      case 'Status':
        return this.serving ? `Serving ${this.files.savePath} at ${this.uri}.` : `Data server stopped (save path ${this.files.savePath}).`;
      case 'get_config':
        return JSON.stringify(this.config());
      case 'configure':
        await this.configure(arg, origin);
        return JSON.stringify(this.config());
      case 'start_tiled_server':
        this.serving = true;
        return JSON.stringify(this.config());
      case 'stop_tiled_server':
        this.serving = false;
        return JSON.stringify(this.config());
      case 'register_path':
        return this.files.register(arg, origin);
      case 'register_save_path':
        return JSON.stringify(await this.files.registerAll(origin));
      case 'copy_and_register_remote_file': {
        const request = parseObject(arg, 'request_json', origin);
        checkKeys(request, ['source_path', 'name'], 'request_json', origin);
        return this.files.copyIn(request.source_path, request.name, origin);
      }
      default:
        throw new InstrumentError('API_CommandNotFound', `DATA.${command} is not served by this twin.`, origin);
    }
  }

  /** Validates every field before changing any: a refused configure leaves the device as it was. */
  private async configure(arg: unknown, origin: string): Promise<void> {
    const config = parseObject(arg, 'config_json', origin);
    checkKeys(config, CONFIG_KEYS, 'config_json', origin);
    const host = config.host;
    if (host !== undefined && (typeof host !== 'string' || !HOST.test(host))) {
      throw new InstrumentError('API_InvalidArgument', `config_json.host must be a host name or address (e.g. "127.0.0.1", "microscope.lab", "[::1]"), got ${shown(host)}`, origin);
    }
    const port = config.port;
    if (port !== undefined && !(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new InstrumentError('API_InvalidArgument', `config_json.port must be an integer 1..65535, got ${shown(port)}`, origin);
    }
    if (config.save_path !== undefined) await this.files.setSavePath(config.save_path as string, origin);
    const before = this.uri;
    if (host !== undefined) this.host = host as string;
    if (port !== undefined) this.port = port as number;
    if (this.uri !== before) this.opts.onUri?.(this.uri);
  }
}

function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function parseObject(arg: unknown, name: string, origin: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(String(arg));
  } catch {
    throw new InstrumentError('API_InvalidArgument', `${name} must be a JSON object, got ${shown(arg)}`, origin);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InstrumentError('API_InvalidArgument', `${name} must be a JSON object, got ${shown(arg)}`, origin);
  return value as Record<string, unknown>;
}

function checkKeys(value: Record<string, unknown>, allowed: readonly string[], name: string, origin: string): void {
  const unknown = Object.keys(value).find((k) => !allowed.includes(k));
  if (unknown !== undefined) throw new InstrumentError('API_InvalidArgument', `${name} has an unknown field ${shown(unknown)}; allowed: ${allowed.join(', ')}.`, origin);
}
