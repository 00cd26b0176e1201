import { performance } from 'node:perf_hooks';
import type { CommandRequest, Instrument } from '../src/protocol/instrument.js';
import { connectRemoteInstrument } from '../src/protocol/remote.js';
import { parseScenario } from '../src/protocol/scenario.js';
import { startServer } from '../src/server/http/server.js';
import { createTwin } from '../src/twin/index.js';

/**
 * Command round trips on loopback: over MCP (the remote adapter, official SDK client) and over
 * REST (fetch, keep-alive), beside the same command on the in-process adapter in the same run.
 * Targets for the served paths: p50 <= 2 ms, p99 <= 10 ms.
 */
const WARMUP = 200;
const CALLS = 2000;
const P50_TARGET_ms = 2;
const P99_TARGET_ms = 10;

const scenario = parseScenario({
  name: 'server-bench',
  specimen: { area_um: [60, 60], density_per_um2: 0.05, response: { gaussians: 200 } },
});

/** get_stage and place_beam, alternating beam positions so every place_beam changes state. */
function request(command: 'get_stage' | 'place_beam', i: number): CommandRequest {
  return command === 'get_stage' ? { command } : { command, args: i % 2 ? [0.25, 0.5] : [0.75, 0.5] };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function measure(run: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < WARMUP; i++) await run(i);
  const times = new Float64Array(CALLS);
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await run(i);
    times[i] = performance.now() - t;
  }
  const sorted = Array.from(times).sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

export default async function (): Promise<void> {
  const server = await startServer({ scenario, port: 0, speed: 'max' });
  const remote: Instrument = await connectRemoteInstrument(server.mcpUrl, { clientName: 'bench' });
  const local = createTwin(scenario).instrument;
  try {
    console.log(`server round trips on loopback (${CALLS} calls after ${WARMUP} warm-up; targets p50 <= ${P50_TARGET_ms} ms, p99 <= ${P99_TARGET_ms} ms)`);
    for (const command of ['get_stage', 'place_beam'] as const) {
      const inProcess = await measure((i) => local.execute(request(command, i)));
      const mcp = await measure((i) => remote.execute(request(command, i)));
      const rest = await measure(async (i) => {
        const res = await fetch(`${server.restUrl}/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request(command, i)) });
        if (res.status !== 200) throw new Error(`REST ${command}: HTTP ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      });
      console.log(`  ${command.padEnd(10)} in-process p50 ${inProcess.p50.toFixed(3)} ms  p99 ${inProcess.p99.toFixed(3)} ms (peer)`);
      for (const [name, r] of [['MCP', mcp], ['REST', rest]] as const) {
        const verdict = r.p50 <= P50_TARGET_ms && r.p99 <= P99_TARGET_ms ? 'PASS' : 'FAIL';
        console.log(
          `  ${command.padEnd(10)} ${name.padEnd(10)} p50 ${r.p50.toFixed(3)} ms (${(r.p50 / inProcess.p50).toFixed(0)}x in-process)  ` +
            `p99 ${r.p99.toFixed(3)} ms (${(r.p99 / inProcess.p99).toFixed(0)}x)  ${verdict}`,
        );
      }
    }
  } finally {
    await remote.close();
    await server.close();
  }
}
