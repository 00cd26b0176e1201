import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { parseScenario } from '../src/protocol/scenario.js';
import { startServer } from '../src/server/http/server.js';

/**
 * A whole-frame reader must not stall other clients: p99 of REST get_stage while another client
 * reads a whole FRAME x FRAME image (GET /api/data/:key/raw, streamed binary) in a loop, as a
 * ratio to p99 without the reader, in the same run. Target: ratio <= 5.
 * FRAME defaults to 4096 (the largest acquisition); BENCH_FRAME=1024 for a quicker run.
 */
const FRAME = Number(process.env.BENCH_FRAME ?? 4096);
const CALLS = 500;
const RATIO_TARGET = 5;
/** Frames the reader completes while get_stage is timed beside it. */
const MIN_FRAMES = 5;

const scenario = parseScenario({
  name: 'server-reader-bench',
  specimen: { area_um: [60, 60], density_per_um2: 0.05, response: { gaussians: 200 } },
});

const READER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  for (;;) {
    const res = await fetch(workerData);
    await res.arrayBuffer();
    parentPort.postMessage(1);
  }
})();
`;

/** p99 of get_stage over at least CALLS calls, and until `enough()` (e.g. several frames read meanwhile). */
async function p99(url: string, enough: () => boolean = () => true): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < CALLS || !enough(); i++) {
    const t = performance.now();
    const res = await fetch(`${url}/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"command":"get_stage"}' });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`get_stage: HTTP ${res.status}`);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(0.99 * times.length)]!;
}

export default async function (): Promise<void> {
  const server = await startServer({ scenario, port: 0, speed: 'max' });
  try {
    const put = await fetch(`${server.restUrl}/devices/SCAN/attributes/imsize`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: FRAME }) });
    if (put.status !== 200) throw new Error(`imsize ${FRAME}: HTTP ${put.status} ${await put.text()}`);
    const acquired = await fetch(`${server.restUrl}/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"command":"acquire_scanned_image","args":["haadf"]}' });
    const key = ((await acquired.json()) as { value: string }).value;

    await p99(server.restUrl); // warm-up
    const alone = await p99(server.restUrl);
    // The reader is another client: its own event loop (a worker thread), not the server's.
    const reader = new Worker(READER, { eval: true, workerData: `${server.restUrl}/data/${key}/raw` });
    let frames = 0;
    reader.on('message', () => frames++);
    await new Promise((resolve) => reader.once('message', resolve));
    const beside = await p99(server.restUrl, () => frames >= MIN_FRAMES);
    await reader.terminate();
    const ratio = beside / alone;
    console.log(`get_stage p99 alone ${alone.toFixed(3)} ms (peer); beside a reader of whole ${FRAME}^2 frames (${frames} read) ${beside.toFixed(3)} ms`);
    console.log(`  ratio ${ratio.toFixed(1)}x (target <= ${RATIO_TARGET}x)  ${ratio <= RATIO_TARGET ? 'PASS' : 'FAIL'}`);
  } finally {
    await server.close();
  }
}
