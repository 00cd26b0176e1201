import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CampaignRecord } from '../policy/campaign/record.js';
import type { PolicyName, Scenario } from '../protocol/scenario.js';

export interface CampaignJob {
  scenario: Scenario;
  seed: number;
  policy: PolicyName;
  iterations?: number;
}

/** What a worker sends back: the summary and the error/time curve, not the whole record. */
export interface CampaignResult {
  job: { seed: number; policy: PolicyName };
  summary: CampaignRecord['summary'];
  /** [time_s, mean_abs_error] per measurement. */
  curve: [number, number | null][];
}

export function resultOf(job: CampaignJob, record: CampaignRecord): CampaignResult {
  return {
    job: { seed: job.seed, policy: job.policy },
    summary: record.summary,
    curve: record.iterations.map((it) => [it.time_s, it.mean_abs_error]),
  };
}

/**
 * Runs campaigns on worker threads, one per core by default (the machine has two). Results come
 * back in job order whatever order the workers finish in, so output is deterministic.
 */
export async function runCampaigns(jobs: CampaignJob[], opts: { workers?: number; onDone?: (done: number) => void } = {}): Promise<CampaignResult[]> {
  const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), jobs.length));
  const results: CampaignResult[] = new Array(jobs.length);
  let next = 0;
  let done = 0;
  const loop = async () => {
    const worker = new Worker(new URL('./campaign-worker.mjs', import.meta.url));
    try {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await new Promise<CampaignResult>((resolve, reject) => {
          const onMessage = (m: { ok: true; result: CampaignResult } | { ok: false; error: string }) => {
            worker.off('error', reject);
            if (m.ok) resolve(m.result);
            else reject(new Error(`campaign seed ${jobs[i]!.seed} (${jobs[i]!.policy}) failed: ${m.error}`));
          };
          worker.once('message', onMessage);
          worker.once('error', reject);
          worker.postMessage(jobs[i]);
        });
        opts.onDone?.(++done);
      }
    } finally {
      await worker.terminate();
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
  return results;
}
