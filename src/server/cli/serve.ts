import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServeOptions, ServeConfigError, startServer, type RunningServer, type ServerOptions } from '../http/server.js';
import { guarded, intOption, parse, scenarioArgument, TOKEN_OPTIONS, tokenOption, UsageError } from './args.js';
import { MAX_SEED } from '../http/twin-service.js';

export { startServer, type RunningServer, type ServerOptions } from '../http/server.js';

const USAGE = `usage: stem-twin serve --scenario <scenario.json> [options]

Serves one twin of the scenario until Ctrl-C: MCP (streamable HTTP) at /mcp with the tool surface
of asyncroscopy's real bridge for the DigitalTwin configuration: <TangoClass>_<command> tools
(DigitalTwin_move_stage, DigitalTwinCorrector_measure_c1a1, EELS_acquire_eels_spectrum, SCAN_State,
...) taking their argument by its Python name ({"position": [...]}) or as "arg" (older bridge),
results and DevFailed errors in FastMCP's shapes, list_devices and get_data_from_key; REST under
/api; live telemetry over socket.io. Commands from all clients run one at a time.
Twin extras: DigitalTwin_get_scenario ({name, seed, digest}: check you drive the twin you mean)
and DigitalTwin_reset ({seed}?: a fresh twin, clock 0, for the next campaign; REST GET
/api/scenario, POST /api/reset), device settings (<DEVICE>_write_attribute / _read_attribute),
DigitalTwin_get_clock, and a lease (DigitalTwin_acquire_lease / release_lease).

options:
  --scenario FILE     the scenario (specimen, instrument latencies)
  --seed N            random seed (default: the scenario's)
  --host H            address to listen on (default 127.0.0.1; anything else needs --token)
  --port N            port (default 8000; 0 picks a free one)
  --speed S           1 = the instrument's real rhythm (a 2 s settle takes 2 s), 60 = a minute
                      per second, max = unpaced (default 1)
  --token T           bearer token: state-changing requests, and any from another machine,
                      must send Authorization: Bearer T (at least 8 characters); visible in
                      ps, so prefer:
  --token-file PATH   read the token from a file
                      (or set STEM_TWIN_TOKEN in the environment)
  --allow-origin O    a browser origin (e.g. http://localhost:5173) whose pages may use the
                      server; repeatable. Other web pages are refused (403 ForbiddenOrigin)
  --data-dir DIR      where every acquisition is written as an HDF5 file <key> (created if
                      missing; DATA.save_path). Default: a fresh stem-twin-serve-* directory
                      under the OS temp dir, kept after stop. Files are served at
                      DATA.get_config().uri + "/" + key
  --log               log every HTTP request

example:
  stem-twin serve --scenario scenarios/paper-3d-au-co-ni.json --seed 1 --speed 60
  stem-twin run scenarios/paper-3d-au-co-ni.json --seed 1 --instrument http://127.0.0.1:8000/mcp`;

export function speedOption(value: string | undefined): number | 'max' | undefined {
  if (value === undefined) return undefined;
  if (value === 'max') return 'max';
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1e6) throw new UsageError(`--speed must be a positive number (1, 60, ...) or "max" (got "${value}")`);
  return n;
}

/** The server's options from the command line; throws UsageError on a mistake. */
export function serveOptions(argv: string[]): ServerOptions | 'help' {
  const { values, positionals } = parse(argv, {
    scenario: { type: 'string' },
    seed: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    speed: { type: 'string' },
    ...TOKEN_OPTIONS,
    'allow-origin': { type: 'string', multiple: true },
    'data-dir': { type: 'string' },
    log: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (give the scenario as --scenario FILE)`);
  if (!values.scenario) throw new UsageError('missing --scenario FILE, e.g. --scenario scenarios/paper-3d-au-co-ni.json');
  const scenario = scenarioArgument([values.scenario]);
  const options: ServerOptions = {
    scenario,
    seed: intOption(values.seed, 'seed', 0, MAX_SEED) ?? scenario.seed,
    host: values.host ?? '127.0.0.1',
    port: intOption(values.port, 'port', 0, 65535) ?? 8000,
    speed: speedOption(values.speed) ?? 1,
    token: tokenOption(values),
    allowOrigins: values['allow-origin'] ?? [],
    logger: values.log ?? false,
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
  };
  try {
    checkServeOptions(options);
  } catch (e) {
    if (e instanceof ServeConfigError) throw new UsageError(e.message);
    throw e;
  }
  return options;
}

export function describeServer(s: RunningServer, opts: ServerOptions): string {
  return [
    `stem-twin serving "${opts.scenario.name}" (seed ${opts.seed}) at speed ${s.speed === 'max' ? 'max (unpaced)' : `${s.speed}x`}`,
    `  MCP        ${s.mcpUrl}`,
    `  REST       ${s.restUrl}   (GET /api/commands lists the command surface)`,
    `  socket.io  ${s.socketUrl}   (path /socket.io; events: hello, telemetry, holder, campaign; publish)`,
    `  data       ${s.data.uri}/<key>   (files in ${s.data.files.savePath})`,
    opts.token ? '  token      required for state-changing requests (Authorization: Bearer <token>)' : '  token      none (loopback only)',
    'Ctrl-C to stop.',
  ].join('\n');
}

/** Serves until `signal` aborts; resolves to the exit code. */
export async function serveUntil(opts: ServerOptions, signal: AbortSignal, print: (line: string) => void = console.log): Promise<number> {
  let server: RunningServer;
  try {
    // A served session's files outlive it: without --data-dir, a fresh directory that is kept.
    server = await startServer({ ...opts, dataDir: opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'stem-twin-serve-'))) });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
      console.error(`error: cannot listen on ${opts.host}:${opts.port}: ${err.message}`);
      return 1;
    }
    throw e;
  }
  print(describeServer(server, opts));
  await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  print('stopping: finishing the running command, closing sessions...');
  await server.close();
  return 0;
}

export function run(argv: string[]): Promise<number> {
  return guarded(USAGE, async () => {
    const options = serveOptions(argv);
    if (options === 'help') {
      console.log(USAGE);
      return 0;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      return await serveUntil(options, stop.signal);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}
