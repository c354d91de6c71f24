/**
 * ESP32 board targets and sdkconfig layers, for tools/moddable/build.ts.
 *
 * mcconfig reads one sdkconfig layer, `$(SDKCONFIGPATH)/sdkconfig.defaults`
 * (+ `.release`, `.inst`), merged over Moddable's base for the chip
 * (tools/mcmanifest.js generateConfigurationRules). A board target that has its
 * own layer (c3_32s_kit_2m: 2 MB flash; m5stack_core2: 16 MB and PSRAM;
 * esp32c3_cdc: its USB console) loses it when an app sets SDKCONFIGPATH after
 * the board's manifest. manifests/esp32.json sets fieldlink's layer *before*
 * the board's manifest is read, so plain mcconfig keeps the board's; this module
 * writes the layer build.ts hands mcconfig (through SDKCONFIGPATH in the
 * environment, see manifests/hal-moddable.json): the board's files as they are,
 * then fieldlink's lines for every key the board leaves alone.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/** The files of a layer, in the order Moddable merges them. */
export const LAYER_FILES = ['sdkconfig.defaults', 'sdkconfig.defaults.release', 'sdkconfig.inst'] as const;

export interface BoardTarget {
  /** `esp32` for the plain chip, else the target's directory name. */
  name: string;
  /** The chip family (`ESP32_SUBCLASS`): esp32, esp32c3, esp32s3, ... */
  chip: string;
  /** The board's own sdkconfig layer directory, if it has one. */
  sdkconfigDir?: string;
  /** The board's own partition table, if it has one. */
  partitionsFile?: string;
}

export function targetsDirectory(moddable: string): string {
  return join(moddable, 'build', 'devices', 'esp32', 'targets');
}

/** Every target directory of the SDK that has a manifest. */
export function listTargets(moddable: string): string[] {
  const dir = targetsDirectory(moddable);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'manifest.json')))
    .map((entry) => entry.name)
    .sort();
}

/**
 * What a target's manifest declares (`build` only: ESP32_SUBCLASS,
 * SDKCONFIGPATH, PARTITIONS_FILE_FOR_TARGET), or undefined when the SDK has no
 * such target. `target` undefined is the plain esp32.
 */
export function readTarget(moddable: string, target: string | undefined): BoardTarget | undefined {
  if (target === undefined) return { name: 'esp32', chip: 'esp32' };
  if (!/^[A-Za-z0-9_.-]+$/.test(target)) return undefined;
  const dir = join(targetsDirectory(moddable), target);
  const file = join(dir, 'manifest.json');
  if (!existsSync(file)) return undefined;
  let manifest: { build?: Record<string, unknown> };
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as typeof manifest;
  } catch {
    return undefined;
  }
  const build = manifest.build ?? {};
  const path = (key: string): string | undefined => {
    const value = build[key];
    if (typeof value !== 'string') return undefined;
    const expanded = value.replace(/\$\(MODDABLE\)/g, moddable);
    return isAbsolute(expanded) ? expanded : resolve(dir, expanded);
  };
  return {
    name: target,
    chip: typeof build.ESP32_SUBCLASS === 'string' ? build.ESP32_SUBCLASS : 'esp32',
    sdkconfigDir: path('SDKCONFIGPATH'),
    partitionsFile: path('PARTITIONS_FILE_FOR_TARGET') ?? path('PARTITIONS_FILE'),
  };
}

/**
 * The keys an sdkconfig text sets, with the value as written: `CONFIG_X=y`
 * gives `y`; `# CONFIG_X is not set` gives `n` (Kconfig reads that comment as
 * an assignment).
 */
export function sdkconfigKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set) {
      keys.set(set[1], set[2]);
      continue;
    }
    const unset = /^#\s*(CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset) keys.set(unset[1], 'n');
  }
  return keys;
}

/** The keys a layer directory's `files` set, later files winning, as Moddable merges them; a missing file sets none. */
export function layerKeys(dir: string, files: readonly string[]): Map<string, string> {
  const keys = new Map<string, string>();
  for (const name of files) {
    const path = join(dir, name);
    if (existsSync(path)) for (const [k, v] of sdkconfigKeys(readFileSync(path, 'utf8'))) keys.set(k, v);
  }
  return keys;
}

export interface LayerResult {
  /** Where the composed files are: what SDKCONFIGPATH must name. */
  directory: string;
  /** Keys fieldlink sets that the board sets itself; the board's value stays. */
  keptFromBoard: string[];
}

function readLayer(dir: string | undefined): Map<string, string> {
  const files = new Map<string, string>();
  if (!dir) return files;
  for (const name of LAYER_FILES) {
    const path = join(dir, name);
    if (existsSync(path)) files.set(name, readFileSync(path, 'utf8'));
  }
  return files;
}

/**
 * Writes into `out` the layer mcconfig should read for `board`: each file is
 * the board's (if any) followed by fieldlink's lines for keys that none of the
 * board's files set.
 */
export function composeLayer(out: string, board: BoardTarget, projectDir: string): LayerResult {
  const boardFiles = readLayer(board.sdkconfigDir);
  const projectFiles = readLayer(projectDir);
  const boardKeys = new Set<string>();
  for (const text of boardFiles.values()) for (const key of sdkconfigKeys(text).keys()) boardKeys.add(key);
  const keptFromBoard = new Set<string>();
  mkdirSync(out, { recursive: true });
  for (const name of LAYER_FILES) {
    const parts: string[] = [];
    const mine = boardFiles.get(name);
    if (mine !== undefined) parts.push(`# from ${join(board.sdkconfigDir ?? '', name)}\n${mine.trimEnd()}\n`);
    const ours = projectFiles.get(name);
    if (ours !== undefined) {
      const lines = ours.split(/\r?\n/).filter((line) => {
        const key = sdkconfigKeys(line).keys().next().value;
        if (key === undefined || !boardKeys.has(key)) return true;
        keptFromBoard.add(key);
        return false;
      });
      parts.push(`# from ${join(projectDir, name)} (keys the board leaves alone)\n${lines.join('\n').trimEnd()}\n`);
    }
    const path = join(out, name);
    if (parts.length) writeIfChanged(path, parts.join('\n'));
    else rmSync(path, { force: true });
  }
  return { directory: out, keptFromBoard: [...keptFromBoard].sort() };
}

/** mcconfig regenerates sdkconfig.h (a full ESP-IDF reconfigure) when its inputs are newer. */
function writeIfChanged(path: string, text: string): void {
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
