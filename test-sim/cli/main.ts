/**
 * `npm start` / `npm run sim -- [options]`: run the simulated device.
 * User mistakes print one line and exit 2; the last stdout line with --json is
 * one JSON object.
 */
import { exitUsage, parseOptions } from '../../tools/cli';
import { runSimulation } from '../sim';
import { summaryLines } from '../summary/fields';
import { loadScenario, UsageError } from '../scenarios/scenario';
import { formatDuration, parseDuration } from './duration';
import type { ExternalEndpoint } from '../net/world';
import { runFleet } from '../fleet';
import { reportDirProblem, writeReport } from '../report/report';

const HELP = `Usage: npm run sim -- [options]

Runs the firmware on simulated devices with a virtual clock.

Options:
  --engine xs|node     where the firmware runs: the real XS engine (default) or
                       in-process under Node (faster, same code)
  --scenario NAME|PATH a built-in scenario (test-sim/scenarios/NAME.json) or a
                       scenario file (default: default)
  --duration DUR       simulated time, e.g. 90s, 10m, 24h, 7d (default: the
                       scenario's)
  --seed N             seed of every random choice (default: 1)
  --realtime           no time warp: simulated time runs with the wall clock
  --state DIR          keep the devices' flash (queue, sequence numbers) in DIR:
                       kill the simulator at any moment (even kill -9) and run
                       again with the same DIR to carry on, as after a power cut
  --endpoint HOST:PORT connect to this broker instead of the built-in local
                       AWS-IoT-like endpoint (needs --ca, --cert, --key)
  --server-name NAME   SNI and certificate name (default: HOST)
  --ca FILE            trusted root CA, PEM
  --cert FILE          device certificate, PEM
  --key FILE           device private key, PEM (never printed)
  --thing NAME         client id (default: the certificate's CN)
  --fleet N            N devices (Node engine, in-process model broker) through
                       the scenario's broker outage (default scenario:
                       fleet-outage), once with full-jitter backoff and once
                       with a no-jitter baseline; reports connects per second
                       and time to recovery for both
  --json               print one JSON summary object as the last line (the
                       report's path then goes to stderr)
  --report DIR         write report.html and report.json (timeline of link
                       state, radio, current, energy, deliveries) into DIR
                       (default: the current directory)
  --no-report          do not write the report
  -h, --help           this help
`;

function fail(message: string): never {
  return exitUsage('sim', message);
}

function options() {
  return parseOptions('sim', {
    engine: { type: 'string', default: 'xs' },
    scenario: { type: 'string', default: 'default' },
    duration: { type: 'string' },
    seed: { type: 'string', default: '1' },
    realtime: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    fleet: { type: 'string' },
    state: { type: 'string' },
    endpoint: { type: 'string' },
    'server-name': { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    thing: { type: 'string' },
    report: { type: 'string' },
    'no-report': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
}

async function main(): Promise<void> {
  const args = options();
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  if (args.engine !== 'xs' && args.engine !== 'node') fail(`--engine must be xs or node, got "${args.engine}"`);
  if (!/^\d+$/.test(args.seed!)) fail(`--seed must be a non-negative integer, got "${args.seed}"`);
  let durationMs: number | undefined;
  if (args.duration !== undefined) {
    durationMs = parseDuration(args.duration);
    if (durationMs === undefined) fail(`--duration must look like 90s, 10m, 24h or 7d, got "${args.duration}"`);
  }
  if (args.report !== undefined && args['no-report']) fail('--report and --no-report do not go together');
  const reportProblem = args.report !== undefined && (args.fleet !== undefined ? '--report goes with a single run, not --fleet' : reportDirProblem(args.report));
  if (reportProblem) fail(reportProblem);
  if (args.fleet !== undefined) return fleet(args);
  const scenario = loadScenario(args.scenario!);
  let world: ExternalEndpoint | undefined;
  if (args.endpoint !== undefined) {
    const missing = (['ca', 'cert', 'key'] as const).filter((k) => args[k] === undefined);
    if (missing.length) fail(`--endpoint needs ${missing.map((k) => `--${k}`).join(', ')}`);
    world = { address: args.endpoint, serverName: args['server-name'], ca: args.ca!, cert: args.cert!, key: args.key!, thing: args.thing };
  } else {
    const stray = (['server-name', 'ca', 'cert', 'key', 'thing'] as const).filter((k) => args[k] !== undefined);
    if (stray.length) fail(`--${stray[0]} only goes with --endpoint`);
  }
  const tty = process.stderr.isTTY && !args.json;
  const result = await runSimulation({
    engine: args.engine,
    scenario,
    durationMs,
    seed: Number(args.seed),
    realtime: args.realtime,
    stateDir: args.state,
    world,
    onProgress: tty
      ? (now, total) => {
          const width = 30;
          const done = Math.min(width, Math.round((now / total) * width));
          process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${formatDuration(now)} / ${formatDuration(total)} `);
        }
      : undefined,
  });
  if (tty) process.stderr.write('\r\x1b[K');
  const report = args['no-report'] ? undefined : writeReport(result, { dir: args.report ?? '.', description: scenario.description });
  if (args.json) {
    // The JSON stays the only and last line on stdout.
    if (report) process.stderr.write(`report: ${report.html}\n`);
    process.stdout.write(`${JSON.stringify(result.summary)}\n`);
  } else {
    process.stdout.write(`${[...summaryLines(result.summary), ...(report ? [`report: ${report.html}`] : [])].join('\n')}\n`);
  }
}

async function fleet(args: ReturnType<typeof options>): Promise<void> {
  const n = Number(args.fleet);
  if (!/^\d+$/.test(args.fleet!) || n < 1 || n > 10000) fail(`--fleet must be a number of devices from 1 to 10000, got "${args.fleet}"`);
  if (args.endpoint !== undefined) fail('--fleet runs against the in-process model broker; it does not take --endpoint');
  const scenario = loadScenario(args.scenario === 'default' ? 'fleet-outage' : args.scenario!);
  scenario.devices = n;
  if (args.duration !== undefined) scenario.durationMs = parseDuration(args.duration) ?? fail(`--duration must look like 90s, 10m, 24h or 7d, got "${args.duration}"`);
  const tty = process.stderr.isTTY && !args.json;
  const started = performance.now();
  const result = await runFleet(scenario, Number(args.seed), tty
    ? (label, now, total) => process.stderr.write(`\r${label}: ${formatDuration(now)} / ${formatDuration(total)}   `)
    : undefined);
  if (tty) process.stderr.write('\r\x1b[K');
  const wall = Math.round(performance.now() - started);
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ ...result, wall_ms: wall, seed: Number(args.seed), scenario: scenario.name, engine: 'node' })}\n`);
    return;
  }
  const recovery = (s: number | null) => (s === null ? 'not within the run' : `${s} s`);
  process.stdout.write([
    `fleet of ${n} through ${scenario.name} (broker back at ${formatDuration(result.outage_end_s * 1000)}), seed ${args.seed}, ${(wall / 1000).toFixed(1)} s`,
    `full jitter:        peak ${result.peak_connects_per_s} connects/s, all online ${recovery(result.recovery_s)} after the broker returned`,
    `no-jitter baseline: peak ${result.baseline_peak_connects_per_s} connects/s, all online ${recovery(result.baseline_recovery_s)} after`,
    '',
  ].join('\n'));
}

main().catch((error) => {
  if (error instanceof UsageError) fail(error.message);
  process.stderr.write(`sim: internal error: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
