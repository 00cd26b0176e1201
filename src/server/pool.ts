import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CampaignRecord, IterationRecord } from '../policy/campaign/record.js';
import type { PolicyName, Scenario } from '../protocol/scenario.js';

export interface CampaignJob {
  scenario: Scenario;
  seed: number;
  policy: PolicyName;
  iterations?: number;
  /**
   * Past `iterations`, run on until the error reaches `until_error_eV` or the instrument time
   * reaches `until_time_s`, whichever comes first, for at most `max_iterations` in all.
   */
  extend?: { until_error_eV: number; until_time_s: number; max_iterations: number };
}

/** What a worker sends back: the summary and the error/time curve, not the whole record. */
export interface CampaignResult {
  job: { seed: number; policy: PolicyName };
  summary: CampaignRecord['summary'];
  /** [time_s, mean_abs_error] per measurement, seed particles included. */
  curve: [number, number | null][];
  /** Where the job's nominal `iterations` ended, when it was extended past them (else the end). */
  nominal: { wall_clock_s: number; final_mean_abs_error: number | null };
}

export function resultOf(job: CampaignJob, record: CampaignRecord): CampaignResult {
  const s = record.summary;
  const n = job.iterations ?? job.scenario.policy.iterations;
  const nominal = s.iterations > n ? record.iterations[s.seed_particles + n - 1] : undefined;
  return {
    job: { seed: job.seed, policy: job.policy },
    summary: s,
    curve: record.iterations.map((it) => [it.time_s, it.mean_abs_error]),
    nominal: nominal ? { wall_clock_s: nominal.time_s, final_mean_abs_error: nominal.mean_abs_error } : { wall_clock_s: s.wall_clock_s, final_mean_abs_error: s.final_mean_abs_error },
  };
}

/** The campaign options for a job's extension: a plain description in, a predicate out. */
export function extensionOf(job: CampaignJob): { while: (last: IterationRecord) => boolean; maxIterations: number } | undefined {
  const x = job.extend;
  if (!x) return undefined;
  return {
    while: (last) => (last.mean_abs_error === null || last.mean_abs_error > x.until_error_eV) && last.time_s < x.until_time_s,
    maxIterations: x.max_iterations,
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
