/**
 * The stem-twin command line. Each command lives in src/server/cli/<name>.ts and exports
 * `run(argv): Promise<number>` (the exit code); they are loaded on demand so that
 * `stem-twin capacity` does not pay for fastify.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  run: { summary: 'run a campaign: a policy against the twin (or a served instrument)', load: () => import('./cli/run.js') },
  estimate: { summary: 'distribution of campaign wall-clock time over seeds', load: () => import('./cli/estimate.js') },
  compare: { summary: 'time to reach an error, per policy, over seeds', load: () => import('./cli/compare.js') },
  script: { summary: 'run a JSONL list of protocol commands against the twin and print the timeline', load: () => import('./cli/script.js') },
  capacity: { summary: 'expected particles on a grid (eq. 1) and simplex grid sizes per dimension', load: () => import('./cli/capacity.js') },
  serve: { summary: 'serve the twin over MCP, REST and socket.io telemetry', load: () => import('./cli/serve.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'stem-twin: a discrete-event digital twin of a STEM, for autonomous-microscopy policies',
    '',
    'usage: stem-twin <command> [options]     (stem-twin <command> --help for its options)',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'example: stem-twin run scenarios/paper-3d-au-co-ni.json --seed 1 --out out/paper-3d',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`stem-twin: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return (await command.load()).run(rest);
}
