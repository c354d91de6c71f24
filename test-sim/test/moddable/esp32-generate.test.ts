/**
 * Board safety: mcconfig in generate-only mode (no -m: the makefile, the merged
 * sdkconfig and the partition table, no ESP-IDF build) for six ESP32 targets,
 * both as plain mcconfig on manifests/esp32.json and as npm run build:esp32
 * plans it (tools/moddable/build.ts with its sdkconfig layer). Each board keeps
 * its flash size, its partition table (with a 64 KB `storage` partition carved
 * out of the factory app where it has none) and every sdkconfig line it
 * declares; fieldlink's power and watchdog settings are added only where the
 * board leaves them alone.
 *
 * Needs $MODDABLE (the SDK's tools built); no ESP-IDF (mcconfig does not read it
 * until make runs). About 3 s per mcconfig run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { planBuild } from '../../../tools/moddable/build';
import { layout, parseTable, type Partition } from '../../../tools/moddable/partitions';
import { layerKeys, readTarget, sdkconfigKeys, type BoardTarget } from '../../../tools/moddable/sdkconfig';

const ROOT = resolve(import.meta.dirname, '../../..');
const MODDABLE = process.env.MODDABLE;
const TARGETS = ['esp32', 'esp32c3', 'esp32s3', 'c3_32s_kit_2m', 'm5stack_core2', 'esp32c3_cdc'] as const;
const STORAGE_SIZE = 0x10000;

const skip = MODDABLE && existsSync(join(MODDABLE, 'build', 'bin', 'lin', 'release', 'mcconfig'))
  ? false
  : 'MODDABLE is not set (or its tools are not built): build the Moddable SDK tools (documentation/Moddable SDK - Getting Started.md) and export MODDABLE to run this test';

function flashMegabytes(sdkconfig: string): number {
  const sizes = [...sdkconfig.matchAll(/^CONFIG_ESPTOOLPY_FLASHSIZE_(\d+)MB=y$/gm)].map((m) => Number(m[1]));
  assert.equal(sizes.length, 1, `one flash size expected, got ${JSON.stringify(sizes)}`);
  return sizes[0];
}

/** Off, however written: Moddable's merge writes `n` as an empty value when it replaces a line, as `n` when it appends one (tools/mcmanifest.js). */
function norm(value: string | undefined): string | undefined {
  return value === '' ? 'n' : value;
}

function layerFiles(release: boolean): string[] {
  return ['sdkconfig.defaults', ...(release ? ['sdkconfig.defaults.release'] : [])];
}

function boardLayer(board: BoardTarget, release: boolean): Map<string, string> {
  return board.sdkconfigDir ? layerKeys(board.sdkconfigDir, layerFiles(release)) : new Map();
}

function projectLayer(release: boolean): Map<string, string> {
  return layerKeys(join(ROOT, 'manifests/esp32/sdkconfig'), layerFiles(release));
}

interface Generated {
  dir: string;
  sdkconfig: string;
  sdkKeys: Map<string, string>;
  table: Partition[];
  config: string;
  flat: { creation: Record<string, unknown>; config: Record<string, unknown> };
}

function generate(out: string, args: string[], env: NodeJS.ProcessEnv, board: BoardTarget, release: boolean): Generated {
  const r = spawnSync(join(MODDABLE as string, 'build/bin/lin/release/mcconfig'), args, { cwd: ROOT, env, encoding: 'utf8' });
  assert.equal(r.status, 0, `mcconfig ${args.join(' ')}\n${r.stdout}${r.stderr}`);
  const sub = board.name === 'esp32' ? [] : [board.name];
  const dir = join(out, 'tmp', 'esp32', ...sub, release ? 'release' : 'debug', 'fieldlink');
  const proj = join(dir, `xsProj-${board.chip}`);
  const sdkconfig = readFileSync(join(proj, 'sdkconfig.mc'), 'utf8');
  return {
    dir,
    sdkconfig,
    sdkKeys: sdkconfigKeys(sdkconfig),
    table: parseTable(readFileSync(join(proj, 'partitions.csv'), 'utf8')),
    config: readFileSync(join(dir, 'mc.config.js'), 'utf8'),
    flat: JSON.parse(readFileSync(join(dir, 'manifest_flat.json'), 'utf8')) as Generated['flat'],
  };
}

function checkBoard(g: Generated, board: BoardTarget, layered: boolean, release: boolean): void {
  const base = join(MODDABLE as string, 'build/devices/esp32', `xsProj-${board.chip}`);
  const declared = boardLayer(board, release);

  // Flash size: the board's, else Moddable's base for the chip.
  const boardFlash = [...declared].find(([k, v]) => /^CONFIG_ESPTOOLPY_FLASHSIZE_\d+MB$/.test(k) && v === 'y');
  const want = boardFlash ? Number(/(\d+)MB$/.exec(boardFlash[0])![1]) : flashMegabytes(readFileSync(join(base, 'sdkconfig.defaults'), 'utf8'));
  const flash = flashMegabytes(g.sdkconfig);
  assert.equal(flash, want, `${board.name}: flash size`);

  // Every line the board declares survives, with its value.
  for (const [key, value] of declared) {
    assert.equal(norm(g.sdkKeys.get(key) ?? (value === 'n' ? 'n' : undefined)), norm(value), `${board.name}: ${key} from the board's sdkconfig`);
  }

  // fieldlink's layer: where the board is silent, when build.ts layers it or the board has no layer of its own.
  for (const [key, value] of projectLayer(release)) {
    if (declared.has(key)) continue;
    if (layered || !board.sdkconfigDir) assert.equal(norm(g.sdkKeys.get(key)), norm(value), `${board.name}: fieldlink's ${key}`);
  }
  if (!release) assert.notEqual(g.sdkKeys.get('CONFIG_ESP_TASK_WDT_EN'), 'y', `${board.name}: a debug build leaves the task watchdog off`);

  // The partition table: the board's own (or Moddable's for the chip), entries kept, storage carved only if missing.
  const source = parseTable(readFileSync(board.partitionsFile ?? join(base, 'partitions.csv'), 'utf8'));
  const hadStorage = source.some((p) => p.name === 'storage' && p.type === 'data');
  for (const p of source) {
    const now = g.table.find((q) => q.name === p.name);
    assert.ok(now, `${board.name}: partition ${p.name} kept`);
    assert.equal(now.type, p.type, `${board.name}: ${p.name} type`);
    assert.equal(now.subtype, p.subtype, `${board.name}: ${p.name} subtype`);
    const shrink = p.subtype === 'factory' && !hadStorage ? STORAGE_SIZE : 0;
    assert.equal(now.size, p.size - shrink, `${board.name}: ${p.name} size`);
  }
  const storage = g.table.find((p) => p.name === 'storage');
  assert.ok(storage && storage.type === 'data' && storage.size === STORAGE_SIZE, `${board.name}: a 64 KB storage partition`);
  assert.equal(g.table.length, source.length + (hadStorage ? 0 : 1), `${board.name}: nothing else added`);
  const placed = layout(g.table);
  for (let i = 1; i < placed.length; i++) assert.ok(placed[i].start >= placed[i - 1].end, `${board.name}: ${placed[i].name} overlaps ${placed[i - 1].name}`);
  assert.ok(placed.at(-1)!.end <= flash * 1024 * 1024, `${board.name}: the table ends at 0x${placed.at(-1)!.end.toString(16)}, beyond ${flash} MB of flash`);

  // The HAL opens the partition Moddable made.
  assert.match(g.config, /"flashPartition":\s*"storage"/, `${board.name}: HAL flash partition in mc/config`);
  // No board timer keeps the CPU awake (the C3 boards' LED rainbow runs every 33 ms otherwise).
  const led = g.flat.config.led as { rainbow?: boolean } | undefined;
  if (led && 'rainbow' in led) assert.equal(led.rainbow, false, `${board.name}: LED rainbow off`);
}

test('mcconfig keeps each board\'s flash size, partition table and sdkconfig, with and without build.ts\'s layer', { skip, timeout: 300_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'fieldlink-esp32-gen-'));
  const credentials = mkdtempSync(join(tmpdir(), 'fieldlink-esp32-gen-cred-'));
  try {
    for (const name of ['ca.der', 'device.der', 'device.key.der']) writeFileSync(join(credentials, name), 'x');
    const env: NodeJS.ProcessEnv = { ...process.env, IDF_PATH: process.env.IDF_PATH ?? out, FIELDLINK_CREDENTIALS: credentials };
    delete env.SDKCONFIGPATH;
    env.PATH = `${join(ROOT, 'node_modules', '.bin')}:${join(MODDABLE as string, 'build/bin/lin/release')}:${env.PATH ?? ''}`;
    for (const name of TARGETS) {
      const board = readTarget(MODDABLE as string, name === 'esp32' ? undefined : name);
      assert.ok(board, `the SDK has target ${name}`);
      const platform = name === 'esp32' ? 'esp32' : `esp32/${name}`;

      // Plain mcconfig, release.
      const plainOut = join(out, 'plain');
      const plain = generate(plainOut, ['-p', platform, '-o', ensure(plainOut), join(ROOT, 'manifests/esp32.json')], env, board, true);
      checkBoard(plain, board, false, true);

      // npm run build:esp32's plan (release by default), generate-only.
      const planOut = join(out, 'plan');
      const plan = planBuild('esp32', name === 'esp32' ? [] : ['--target', name], env, { outputDir: ensure(planOut), generateOnly: true });
      assert.notEqual(plan, 'help');
      if (plan === 'help') return;
      assert.ok(!plan.args.includes('-d'), 'build:esp32 is a release build by default');
      const layered = generate(planOut, plan.args, plan.env, board, true);
      checkBoard(layered, board, true, true);
      if (name === 'esp32c3') {
        // The fixed XS block as manifests/memory.json sizes it (README, "Memory"), not Moddable's 94,208 bytes.
        const memory = JSON.parse(readFileSync(join(ROOT, 'manifests/memory.json'), 'utf8')) as { platforms: Record<string, { creation: { static?: number } }> };
        assert.equal(layered.flat.creation.static, memory.platforms['esp32/esp32c3'].creation.static, 'esp32c3: the fixed XS block of manifests/memory.json');
      }
    }

    // A debug build (--debug) has no task watchdog.
    const debugOut = join(out, 'debug');
    const board = readTarget(MODDABLE as string, 'esp32c3')!;
    const plan = planBuild('esp32', ['--target', 'esp32c3', '--debug'], env, { outputDir: ensure(debugOut), generateOnly: true });
    if (plan === 'help') return;
    assert.ok(plan.args.includes('-d'));
    checkBoard(generate(debugOut, plan.args, plan.env, board, false), board, true, false);
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(credentials, { recursive: true, force: true });
  }
});

function ensure(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
