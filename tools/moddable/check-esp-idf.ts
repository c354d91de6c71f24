/**
 * npm run check:esp-idf: compiles every C file under hal/moddable/native/ the
 * way Moddable's ESP32 build would, against a real ESP-IDF checkout, with
 * -Wall -Werror.
 *
 *   npm run check:esp-idf [-- --keep DIR]
 *
 * For esp32c3 and esp32, release and debug:
 * 1. mcconfig in generate-only mode, planned as npm run build:esp32 plans it
 *    (so with fieldlink's sdkconfig layer), gives the makefile and the merged
 *    sdkconfig defaults (sdkconfig.mc).
 * 2. sdkconfig.h from those defaults with ESP-IDF's own kconfgen
 *    (esp-idf-kconfig), the steps of ESP-IDF's tools/cmake/kconfig.cmake.
 * 3. The compiler flags are read from the makefile (make evaluates C_DEFINES,
 *    C_INCLUDES, C_FLAGS: Moddable's own include list of ESP-IDF components),
 *    and every C file of hal/moddable/native that this build compiles is
 *    compiled with them, -Wall -Werror -Wimplicit-function-declaration added.
 *
 * Compilers: Espressif's (riscv32-esp-elf-gcc, xtensa-esp32-elf-gcc) when on
 * PATH. Otherwise Debian's riscv64-unknown-elf-gcc: for esp32c3 it compiles
 * (-march=rv32imc_zicsr_zifencei -mabi=ilp32, -c, no link) with Debian's
 * newlib headers (libnewlib-dev; Moddable selects CONFIG_LIBC_NEWLIB) and a
 * copy of newlib's sys/reent.h made in the work directory that drops one
 * `const` newlib 3.3 has and ESP-IDF's newlib 4 does not; for esp32 (Xtensa,
 * no compiler in Debian) it checks syntax and types only (-fsyntax-only with
 * __XTENSA__ defined, so ESP-IDF's headers take their Xtensa branches), which
 * is as far as a host compiler goes. C files the Moddable simulator build
 * compiles (hal/moddable/native/*-sim.c) are compiled with the host's gcc and
 * the Linux build's flags.
 *
 * A missing prerequisite ($IDF_PATH, $MODDABLE, a compiler, kconfgen) is one
 * line and exit 2; a file that does not compile prints the compiler's output
 * and the run exits 1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { planBuild, ROOT } from './build';

const NATIVE_DIR = join(ROOT, 'hal', 'moddable', 'native');
const CHIPS = ['esp32c3', 'esp32'] as const;
type Chip = typeof CHIPS[number];
const NEWLIB_INCLUDE = '/usr/include/newlib';
const WARNINGS = ['-Wall', '-Werror', '-Wimplicit-function-declaration'];

class Missing extends Error {}

function which(command: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { status: number; output: string } {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Splits a flag string as the shell would for the plain words make prints (no quotes in Moddable's flags). */
function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

interface Environment {
  idf: string;
  idfVersion: string;
  moddable: string;
  python: string;
  riscv: { command: string; espressif: boolean };
  xtensa?: string;
  hostGcc?: string;
}

function idfVersion(idf: string): string {
  const text = readFileSync(join(idf, 'tools', 'cmake', 'version.cmake'), 'utf8');
  const part = (name: string): string => new RegExp(`set\\(IDF_VERSION_${name} (\\d+)\\)`).exec(text)?.[1] ?? '?';
  return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

function environment(env: NodeJS.ProcessEnv): Environment {
  const idf = env.IDF_PATH;
  if (!idf) throw new Missing('$IDF_PATH is not set — point it at an ESP-IDF v6.0.x checkout with its submodules (documentation/devices/esp32.md in the Moddable SDK)');
  if (!existsSync(join(idf, 'tools', 'cmake', 'version.cmake'))) throw new Missing(`$IDF_PATH is ${idf}, which is not an ESP-IDF checkout — point it at ESP-IDF v6.0.x`);
  const version = idfVersion(idf);
  if (!version.startsWith('6.0.')) throw new Missing(`$IDF_PATH is ESP-IDF ${version}; Moddable 8.2 and fieldlink need 6.0.x — check out v6.0.2`);
  const moddable = env.MODDABLE;
  if (!moddable || !existsSync(join(moddable, 'build', 'bin', 'lin', 'release', 'mcconfig'))) {
    throw new Missing('$MODDABLE is not set or its tools are not built — the check runs mcconfig and needs the XS headers (documentation/Moddable SDK - Getting Started.md)');
  }
  const python = env.KCONFGEN_PYTHON ?? 'python3';
  if (run('sh', ['-c', `"${python}" -c "import kconfgen"`]).status !== 0) {
    throw new Missing(`${python} cannot import kconfgen — install esp-idf-kconfig 3.x (ESP-IDF's export.sh does), or set KCONFGEN_PYTHON to a python that has it`);
  }
  const espressifRiscv = which('riscv32-esp-elf-gcc');
  const debianRiscv = which('riscv64-unknown-elf-gcc');
  if (!espressifRiscv && !debianRiscv) {
    throw new Missing('no RISC-V compiler: riscv32-esp-elf-gcc (ESP-IDF\'s export.sh) or riscv64-unknown-elf-gcc (apt-get install gcc-riscv64-unknown-elf libnewlib-dev)');
  }
  if (!espressifRiscv && !existsSync(join(NEWLIB_INCLUDE, 'sys', 'reent.h'))) {
    throw new Missing(`no newlib headers in ${NEWLIB_INCLUDE} for riscv64-unknown-elf-gcc — apt-get install libnewlib-dev`);
  }
  return {
    idf,
    idfVersion: version,
    moddable,
    python,
    riscv: espressifRiscv ? { command: espressifRiscv, espressif: true } : { command: debianRiscv as string, espressif: false },
    xtensa: which('xtensa-esp32-elf-gcc'),
    hostGcc: which('gcc'),
  };
}

/** ESP-IDF's tools/cmake/kconfig.cmake (__kconfig_generate_config) without cmake: sdkconfig.h from defaults files. */
function generateSdkconfigHeader(e: Environment, chip: Chip, defaults: string[], out: string): string {
  mkdirSync(out, { recursive: true });
  const kconfigs: string[] = [];
  const projbuilds: string[] = [];
  const renames: string[] = [];
  const components = join(e.idf, 'components');
  for (const name of readdirSync(components).sort()) {
    const dir = join(components, name);
    if (!existsSync(join(dir, 'CMakeLists.txt'))) continue;
    if (existsSync(join(dir, 'Kconfig'))) kconfigs.push(join(dir, 'Kconfig'));
    if (existsSync(join(dir, 'Kconfig.projbuild'))) projbuilds.push(join(dir, 'Kconfig.projbuild'));
    if (existsSync(join(dir, 'sdkconfig.rename'))) renames.push(join(dir, 'sdkconfig.rename'));
    if (existsSync(join(dir, `sdkconfig.rename.${chip}`))) renames.push(join(dir, `sdkconfig.rename.${chip}`));
  }
  const envFile = join(out, 'config.env');
  writeFileSync(envFile, JSON.stringify({
    COMPONENT_KCONFIGS: kconfigs.join(';'),
    COMPONENT_KCONFIGS_PROJBUILD: projbuilds.join(';'),
    COMPONENT_SDKCONFIG_RENAMES: renames.join(';'),
    IDF_TARGET: chip,
    IDF_TOOLCHAIN: 'gcc',
    IDF_VERSION: e.idfVersion,
    IDF_ENV_FPGA: '',
    IDF_PATH: e.idf,
    COMPONENT_KCONFIGS_SOURCE_FILE: join(out, 'kconfigs.in'),
    COMPONENT_KCONFIGS_PROJBUILD_SOURCE_FILE: join(out, 'kconfigs_projbuild.in'),
    KCONFIG_PROMPTLESS_NO_WARN: 'IDF_TARGET',
  }, null, 2));
  const prepare = run(e.python, [join(e.idf, 'tools', 'kconfig_new', 'prepare_kconfig_files.py'), '--list-separator=semicolon', '--env-file', envFile]);
  if (prepare.status !== 0) throw new Error(`prepare_kconfig_files.py failed:\n${prepare.output}`);
  const header = join(out, 'sdkconfig.h');
  const kconfgen = run(e.python, [
    '-m', 'kconfgen', '--list-separator=semicolon',
    '--kconfig', join(e.idf, 'Kconfig'), '--sdkconfig-rename', join(e.idf, 'sdkconfig.rename'),
    '--config', join(out, 'sdkconfig'),
    ...defaults.flatMap((file) => ['--defaults', file]),
    '--env', 'IDF_MINIMAL_BUILD=n', '--env-file', envFile,
    '--output', 'header', header, '--output', 'config', join(out, 'sdkconfig'),
  ], { env: { ...process.env, IDF_INIT_VERSION: e.idfVersion, KCONFIG_REPORT_VERBOSITY: 'quiet' } });
  if (kconfgen.status !== 0 || !existsSync(header)) throw new Error(`kconfgen failed:\n${kconfgen.output}`);
  return out;
}

/** What make would pass the compiler for a module's C file (make.esp32.mk / make.lin.mk: $(C_DEFINES) $(C_INCLUDES) $(C_FLAGS)). */
function makeFlags(dir: string, env: NodeJS.ProcessEnv): string[] {
  const r = run('make', ['-f', 'makefile', '--no-print-directory', '-s', '--eval', 'fieldlink-flags: ; @echo $(C_DEFINES) $(C_INCLUDES) $(C_FLAGS)', 'fieldlink-flags'], { cwd: dir, env });
  if (r.status !== 0) throw new Error(`make could not evaluate the flags in ${dir}:\n${r.output}`);
  return words(r.output.trim().split('\n').at(-1) ?? '');
}

/** The C files of hal/moddable/native this build compiles (the makefile's object rules). */
function nativeSources(dir: string): string[] {
  const makefile = readFileSync(join(dir, 'makefile'), 'utf8');
  const sources = new Set<string>();
  for (const m of makefile.matchAll(/^\$\(TMP_DIR\)\/\S+\.c\.o: (\S+\.c)\b/gm)) {
    if (resolve(m[1]).startsWith(NATIVE_DIR + '/')) sources.add(resolve(m[1]));
  }
  return [...sources].sort();
}

/**
 * mc.xs.h, which xsl writes when it links the JavaScript of a full build,
 * defines the xsID_ constants C files use for property names. A generate-only
 * build has none, so the check writes one with every xsID_ name the sources use
 * (distinct integers, as xsl's are).
 */
function idHeader(dir: string, sources: string[]): string {
  const names = new Set<string>();
  for (const source of sources) for (const m of readFileSync(source, 'utf8').matchAll(/\bxsID_(\w+)/g)) names.add(m[1]);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'mc.xs.h'), [...names].sort().map((name, i) => `#define xsID_${name} ${-32000 + i}\n`).join(''));
  return dir;
}

/** Newlib 3.3's sys/reent.h with `_global_impure_ptr` declared as ESP-IDF's newlib 4 declares it. */
function newlibShim(work: string): string {
  const dir = join(work, 'newlib-shim');
  mkdirSync(join(dir, 'sys'), { recursive: true });
  const text = readFileSync(join(NEWLIB_INCLUDE, 'sys', 'reent.h'), 'utf8');
  const patched = text.replace(/extern struct _reent \*const _global_impure_ptr/, 'extern struct _reent *_global_impure_ptr');
  writeFileSync(join(dir, 'sys', 'reent.h'), patched);
  return dir;
}

interface Result {
  file: string;
  build: string;
  how: string;
  ok: boolean;
  output: string;
}

function main(argv: string[]): number {
  let keep: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-h' || argv[i] === '--help') {
      process.stdout.write('usage: npm run check:esp-idf [-- --keep DIR]\n\nCompiles hal/moddable/native/*.c against ESP-IDF ($IDF_PATH, v6.0.x) for esp32c3 and esp32 with -Wall -Werror,\nas Moddable\'s build would ($MODDABLE). --keep DIR leaves the generated files there.\n');
      return 0;
    }
    if (argv[i] === '--keep' && argv[i + 1] && !argv[i + 1].startsWith('--')) keep = argv[++i];
    else {
      process.stderr.write(`check:esp-idf: unknown argument "${argv[i]}" — see npm run check:esp-idf -- --help\n`);
      return 2;
    }
  }
  let e: Environment;
  try {
    e = environment(process.env);
  } catch (error) {
    if (error instanceof Missing) {
      process.stderr.write(`check:esp-idf: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const work = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'fieldlink-check-esp-idf-'));
  mkdirSync(work, { recursive: true });
  const credentials = join(work, 'credentials');
  mkdirSync(credentials, { recursive: true });
  for (const name of ['ca.der', 'device.der', 'device.key.der']) writeFileSync(join(credentials, name), 'placeholder: the check builds no image');

  const versions = [e.riscv.command, e.xtensa].filter(Boolean).map((cc) => `${basename(cc as string)} ${run(cc as string, ['-dumpversion']).output.trim()}`);
  process.stdout.write(`check:esp-idf: ESP-IDF ${e.idfVersion} (${e.idf}), Moddable ${e.moddable}, ${versions.join(', ')}\n`);

  const results: Result[] = [];
  const compiled = new Set<string>();
  try {
    const shim = e.riscv.espressif ? undefined : newlibShim(work);
    for (const chip of CHIPS) {
      for (const kind of ['release', 'debug'] as const) {
        const label = `${chip} ${kind}`;
        const out = join(work, chip, kind);
        mkdirSync(out, { recursive: true });
        const plan = planBuild('esp32', [...(chip === 'esp32' ? [] : ['--target', chip]), ...(kind === 'debug' ? ['--debug'] : [])], { ...process.env, FIELDLINK_CREDENTIALS: credentials }, { outputDir: out, generateOnly: true });
        if (plan === 'help') return 0;
        const gen = run(plan.command, plan.args, { cwd: ROOT, env: plan.env });
        if (gen.status !== 0) throw new Error(`mcconfig failed for ${label}:\n${gen.output}`);
        const dir = join(out, 'tmp', 'esp32', ...(chip === 'esp32' ? [] : [chip]), kind, 'fieldlink');
        const sdkconfig = generateSdkconfigHeader(e, chip, [join(dir, `xsProj-${chip}`, 'sdkconfig.mc')], join(dir, 'sdkconfig'));
        const sources = nativeSources(dir);
        const flags = [`-I${idHeader(join(dir, 'check-ids'), sources)}`, ...makeFlags(dir, { ...plan.env, IDF_PATH: e.idf })];
        for (const source of sources) {
          compiled.add(source);
          let command: string;
          let args: string[];
          let how: string;
          if (chip === 'esp32c3') {
            command = e.riscv.command;
            if (e.riscv.espressif) {
              args = [`-I${sdkconfig}`, ...flags, ...WARNINGS, source, '-o', join(out, `${basename(source)}.o`)];
              how = 'compiled (riscv32-esp-elf-gcc)';
            } else {
              // Moddable's -march=rv32imc predates GCC 12's split of zicsr/zifencei out of the base ISA.
              args = ['-march=rv32imc_zicsr_zifencei', '-mabi=ilp32', `-I${sdkconfig}`, ...flags.filter((f) => f !== '-march=rv32imc'), '-isystem', shim as string, '-isystem', NEWLIB_INCLUDE, ...WARNINGS, source, '-o', join(out, `${basename(source)}.o`)];
              how = 'compiled to an rv32imc object (riscv64-unknown-elf-gcc, Debian newlib headers)';
            }
          } else if (e.xtensa) {
            command = e.xtensa;
            args = [`-I${sdkconfig}`, ...flags, ...WARNINGS, source, '-o', join(out, `${basename(source)}.o`)];
            how = 'compiled (xtensa-esp32-elf-gcc)';
          } else {
            command = e.riscv.command;
            const portable = flags.filter((f) => !['-mlongcalls', '-mtext-section-literals', '-c'].includes(f));
            args = [...(e.riscv.espressif ? [] : ['-march=rv32imc_zicsr_zifencei', '-mabi=ilp32']), '-D__XTENSA__=1', '-D__XTENSA_EL__=1', '-fsyntax-only',
              `-I${sdkconfig}`, ...portable, ...(shim ? ['-isystem', shim, '-isystem', NEWLIB_INCLUDE] : []), ...WARNINGS, source];
            how = 'syntax and types only (no Xtensa compiler: a 32-bit RISC-V gcc with __XTENSA__ defined)';
          }
          const r = run(command, args, { cwd: dir });
          results.push({ file: relative(ROOT, source), build: label, how, ok: r.status === 0 && !/\bwarning:/.test(r.output), output: r.output });
        }
      }
    }
    // The Moddable simulator's C (hal/moddable/native/*-sim.c): host gcc, the Linux build's flags.
    const simOut = join(work, 'lin');
    mkdirSync(simOut, { recursive: true });
    const simPlan = planBuild('sim', ['--credentials', credentials], process.env, { outputDir: simOut, generateOnly: true });
    if (simPlan !== 'help') {
      const gen = run(simPlan.command, simPlan.args, { cwd: ROOT, env: simPlan.env });
      if (gen.status !== 0) throw new Error(`mcconfig failed for lin:\n${gen.output}`);
      const dir = join(simOut, 'tmp', 'lin', 'mc', 'debug', 'fieldlink');
      if (!existsSync(join(dir, 'makefile'))) throw new Error(`mcconfig wrote no makefile in ${dir}`);
      const sources = nativeSources(dir);
      if (sources.length && !e.hostGcc) throw new Missing('no gcc on PATH for the simulator\'s C files — apt-get install gcc');
      const flags = sources.length ? [`-I${idHeader(join(dir, 'check-ids'), sources)}`, ...makeFlags(dir, simPlan.env)] : [];
      for (const source of sources) {
        compiled.add(source);
        const r = run(e.hostGcc as string, [...flags.filter((f) => f !== '-c'), '-c', ...WARNINGS, source, '-o', join(simOut, `${basename(source)}.o`)], { cwd: dir });
        results.push({ file: relative(ROOT, source), build: 'lin (mcsim)', how: 'compiled (host gcc)', ok: r.status === 0 && !/\bwarning:/.test(r.output), output: r.output });
      }
    }
  } catch (error) {
    if (error instanceof Missing) {
      process.stderr.write(`check:esp-idf: ${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    if (!keep) rmSync(work, { recursive: true, force: true });
  }

  for (const file of readdirSync(NATIVE_DIR).filter((f) => f.endsWith('.c')).map((f) => join(NATIVE_DIR, f))) {
    if (!compiled.has(file)) results.push({ file: relative(ROOT, file), build: '-', how: 'no build compiles it (not in any manifest)', ok: false, output: '' });
  }
  for (const r of results) {
    process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.build.padEnd(16)} ${r.file}: ${r.how}\n`);
    if (!r.ok && r.output) process.stdout.write(`${r.output.trimEnd()}\n`);
  }
  const failed = results.filter((r) => !r.ok).length;
  process.stdout.write(failed ? `check:esp-idf: ${failed} of ${results.length} compile(s) failed\n` : `check:esp-idf: ${results.length} compile(s), no warnings\n`);
  return failed ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  process.exitCode = main(process.argv.slice(2));
}
