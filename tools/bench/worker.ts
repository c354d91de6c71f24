/**
 * A bench worker process: reads one Job (tools/bench/run.ts) per stdin line,
 * writes one JSON RunResult per stdout line, in order. `npm run bench` starts
 * `--jobs` of them so the runs share the machine's cores.
 */
import { createInterface } from 'node:readline';
import { runJob, type Job } from './run';

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  try {
    const result = await runJob(JSON.parse(line) as Job);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: error instanceof Error ? error.stack : String(error) })}\n`);
  }
}
