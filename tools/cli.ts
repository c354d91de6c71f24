/** What every command-line entry shares: a user mistake is one line on stderr and exit code 2. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export function exitUsage(program: string, message: string): never {
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(2);
}

/** Strict `node:util` parseArgs; an unknown or malformed option exits with one line. */
export function parseOptions<const T extends OptionsConfig>(program: string, options: T) {
  try {
    return parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    return exitUsage(program, `${(error as Error).message.split('\n')[0]} (see --help)`);
  }
}
