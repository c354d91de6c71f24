/**
 * The report of one simulator run: `report.json` (the summary and a compact
 * timeline of device 0) and `report.html` (one self-contained page: the key
 * numbers and an SVG timeline of link state, radio, current, energy and
 * deliveries). `npm start` and `npm run sim` write both after a run.
 */
import { accessSync, constants, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { SimResult, SimSummary } from '../sim';
import { batteryDays, renderHtml, BATTERY_MAH } from './html';
import { buildTimeline, timeShares, type Timeline } from './timeline';

const rounded = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v)]));

export interface ReportOptions {
  /** Directory to write into (created when missing). */
  dir: string;
  title?: string;
  /** One line saying what the scenario does (shown under the title). */
  description?: string;
}

export interface ReportJson {
  report: 1;
  title: string;
  description?: string;
  summary: SimSummary;
  derived: {
    battery_mah: number;
    battery_days: number | null;
    /** Device 0's time in each link state and each radio state, ms. */
    state_ms: Record<string, number>;
    radio_ms: Record<string, number>;
  };
  timeline: Timeline;
}

export function reportJson(result: SimResult, timeline: Timeline, options: Omit<ReportOptions, 'dir'> = {}): ReportJson {
  const days = batteryDays(result.summary.avg_ma);
  return {
    report: 1,
    title: options.title ?? `fieldlink simulator: ${result.summary.scenario}`,
    description: options.description,
    summary: result.summary,
    derived: {
      battery_mah: BATTERY_MAH,
      battery_days: days === null ? null : Math.round(days * 10) / 10,
      state_ms: rounded(timeShares(timeline.states)),
      radio_ms: rounded(timeShares(timeline.radio)),
    },
    timeline,
  };
}

/** Writes report.json and report.html into `options.dir`; returns their absolute paths. */
export function writeReport(result: SimResult, options: ReportOptions): { html: string; json: string } {
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  const timeline = buildTimeline(result);
  const json = join(dir, 'report.json');
  const html = join(dir, 'report.html');
  writeAtomically(json, `${JSON.stringify(reportJson(result, timeline, options))}\n`);
  writeAtomically(html, renderHtml(result, timeline, options));
  return { html, json };
}

/** Why the report cannot be written into `dir` (checked before a run, so a mistake costs nothing), or undefined. */
export function reportDirProblem(dir: string): string | undefined {
  let existing = resolve(dir);
  while (!existsSync(existing)) existing = dirname(existing);
  if (!statSync(existing).isDirectory()) return `--report ${dir}: ${existing} is a file; give a directory (it is created when missing)`;
  try {
    accessSync(existing, constants.W_OK);
  } catch {
    return `--report ${dir}: ${existing} is not writable`;
  }
  return undefined;
}

/** Several runs may share a directory (tests run the CLI in parallel): never leave a torn file. */
function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
