/**
 * Runs bench jobs on a few worker processes (tools/bench/worker.ts), one job
 * at a time per worker, results in job order. With one job slot it runs them
 * in this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { runJob, type Job, type RunResult } from './run';

const WORKER = join(import.meta.dirname, 'worker.ts');

export async function runJobs(jobs: Job[], slots: number, onDone?: (done: number, total: number, job: Job) => void): Promise<RunResult[]> {
  const results: RunResult[] = new Array(jobs.length);
  let done = 0;
  if (slots <= 1) {
    for (let i = 0; i < jobs.length; i++) {
      results[i] = await runJob(jobs[i]);
      onDone?.(++done, jobs.length, jobs[i]);
    }
    return results;
  }
  let next = 0;
  const workers: ChildProcess[] = [];
  try {
    await Promise.all(Array.from({ length: Math.min(slots, jobs.length) }, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', WORKER], { stdio: ['pipe', 'pipe', 'inherit'] });
      workers.push(child);
      const replies = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      while (next < jobs.length) {
        const index = next++;
        child.stdin!.write(`${JSON.stringify(jobs[index])}\n`);
        const reply = await replies.next();
        if (reply.done) throw new Error(`bench worker exited during job ${JSON.stringify(jobs[index])}`);
        const parsed = JSON.parse(reply.value) as RunResult | { error: string };
        if ('error' in parsed) throw new Error(`bench job ${jobs[index].row} seed ${jobs[index].seed} failed: ${parsed.error}`);
        results[index] = parsed;
        onDone?.(++done, jobs.length, jobs[index]);
      }
      child.stdin!.end();
    }));
  } finally {
    for (const w of workers) if (w.exitCode === null) w.kill();
  }
  return results;
}
