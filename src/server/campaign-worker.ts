// A worker thread that runs campaigns for the pool (src/server/pool.ts), one job per message.
import { parentPort } from 'node:worker_threads';
import { extensionOf, resultOf, type CampaignJob } from './pool.js';
import { runSession } from './session.js';

parentPort!.on('message', async (job: CampaignJob) => {
  try {
    const record = await runSession(job.scenario, { seed: job.seed, policy: job.policy, iterations: job.iterations, extend: extensionOf(job) });
    parentPort!.postMessage({ ok: true, result: resultOf(job, record) });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).stack ?? String(e) });
  }
});
