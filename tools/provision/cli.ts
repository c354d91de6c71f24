/**
 * provision: credentials for the firmware and the simulator (`main.ts` runs it
 * as a process; tests call `runProvision` in-process with their own output).
 *
 *   npm run provision -- dev-pki [--out DIR] [--endpoint NAME] [--devices N] [--days N] [--key-type rsa|ec]
 *   npm run provision -- import --endpoint HOST --cert FILE --key FILE --ca FILE [--thing NAME] [--out DIR]
 *
 * Every failure is one line on stderr, `provision: <what is wrong> — <what to do>`,
 * with exit status 2. Nothing it prints ever contains key material.
 */
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ProvisionError } from './errors';
import { DEFAULT_CREDENTIALS_DIR, importCredentials } from './import';
import { DEFAULT_DEV_PKI_DIR, DEFAULT_ENDPOINT_NAME } from './defaults';

const USAGE = `usage: npm run provision -- <command> [options]

commands:
  dev-pki   make a local test PKI (root CA, intermediate, endpoint, device certificates)
  import    turn AWS IoT credentials into Moddable DER resources and config.json

Run \`npm run provision -- <command> --help\` for a command's options.
`;

const DEV_PKI_HELP = `usage: npm run provision -- dev-pki [--out DIR] [--endpoint NAME] [--devices N] [--days N] [--key-type rsa|ec]

Makes a test PKI shaped like AWS IoT's: RSA-2048 root CA -> intermediate -> endpoint
certificate with SAN *.<rest of NAME>, and device certificates signed by the root.
Also writes negative-test material under DIR/negative/. DIR is replaced whole: it must
not exist, be empty, or hold a dev PKI and nothing else.

  --out DIR        where to write (default ${DEFAULT_DEV_PKI_DIR})
  --endpoint NAME  endpoint host name (default ${DEFAULT_ENDPOINT_NAME})
  --devices N      number of device certificates, 1..100 (default 1)
  --days N         validity in days (default 30)
  --key-type T     device keys: rsa (RSA-2048, default) or ec (ECDSA P-256)
  -h, --help       this text
`;

const IMPORT_HELP = `usage: npm run provision -- import --endpoint HOST --cert FILE --key FILE --ca FILE [--thing NAME] [--out DIR]

Checks AWS IoT credentials (key matches certificate, dates, endpoint form, key type:
RSA-2048 or larger, or ECDSA P-256; the CA must be a CA certificate) and writes ca.der, device.der, device.key.der (PKCS#8, as Moddable's clientKey expects),
the same as PEM for the simulator, and config.json {endpoint, thing, port: 443}.

  --endpoint HOST  Data-ATS endpoint, <prefix>-ats.iot.<region>.amazonaws.com
  --cert FILE      device certificate, PEM (xxx-certificate.pem.crt)
  --key FILE       device private key, PEM (xxx-private.pem.key)
  --ca FILE        Amazon root CA, PEM (AmazonRootCA1.pem)
  --thing NAME     thing name and MQTT client id (default: the certificate's CN)
  --out DIR        where to write (default ${DEFAULT_CREDENTIALS_DIR}/, kept out of git)
  -h, --help       this text
`;

type Options = NonNullable<ParseArgsConfig['options']>;

/** Where the command writes: stdout and stderr of a process, or a test's buffers. */
export interface ProvisionIo {
  out(text: string): void;
  err(text: string): void;
}

function parse<T extends Options>(command: string, args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  } catch (error) {
    const first = String((error as Error).message).split(/\.\s|\n/)[0].replace(/\.$/, '');
    throw new ProvisionError(first, `see npm run provision -- ${command} --help`);
  }
}

function positiveInt(value: string | undefined, flag: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new ProvisionError(`${flag} must be a whole number from 1 to ${max}, got "${value}"`, `pass e.g. ${flag} ${fallback}`);
  }
  return n;
}

async function devPki(args: string[], io: ProvisionIo): Promise<void> {
  const { values } = parse('dev-pki', args, {
    out: { type: 'string' },
    endpoint: { type: 'string' },
    devices: { type: 'string' },
    days: { type: 'string' },
    'key-type': { type: 'string' },
  });
  if (values.help) {
    io.out(DEV_PKI_HELP);
    return;
  }
  const out = resolve(String(values.out ?? DEFAULT_DEV_PKI_DIR));
  const endpointName = String(values.endpoint ?? DEFAULT_ENDPOINT_NAME);
  if (endpointName.split('.').length < 3) {
    throw new ProvisionError(`--endpoint "${endpointName}" has too few labels for a wildcard certificate`, `pass a name like ${DEFAULT_ENDPOINT_NAME}`);
  }
  const devices = positiveInt(values.devices as string | undefined, '--devices', 1, 100);
  const validityDays = positiveInt(values.days as string | undefined, '--days', 30, 3650);
  const keyType = String(values['key-type'] ?? 'rsa');
  if (keyType !== 'rsa' && keyType !== 'ec') {
    throw new ProvisionError(`--key-type must be rsa or ec, got "${keyType}"`, 'pass --key-type rsa (RSA-2048) or --key-type ec (ECDSA P-256)');
  }
  const { generateDevPki, refuseForeignDirectory, replaceDevPki } = await import('./pki'); // @peculiar/x509 is slow to load; import does not need it
  await refuseForeignDirectory(out); // before minutes of key generation, not after
  const pki = await generateDevPki({
    endpointName,
    devices,
    validityDays,
    keyType,
    onProgress: (step) => io.err(`provision: generating ${step}\n`),
  });
  pki.files = await replaceDevPki(pki, out);
  for (const file of pki.files) io.out(`wrote ${file}\n`);
  io.out(`endpoint ${pki.endpointName}, things ${pki.devices.map((d) => d.thing).join(', ')}, device keys ${keyType === 'ec' ? 'ECDSA P-256' : 'RSA-2048'}\n`);
}

async function importCommand(args: string[], io: ProvisionIo): Promise<void> {
  const { values } = parse('import', args, {
    endpoint: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
    thing: { type: 'string' },
    out: { type: 'string' },
  });
  if (values.help) {
    io.out(IMPORT_HELP);
    return;
  }
  for (const flag of ['endpoint', 'cert', 'key', 'ca'] as const) {
    if (values[flag] === undefined) {
      throw new ProvisionError(`--${flag} is required`, 'see npm run provision -- import --help');
    }
  }
  const result = await importCredentials({
    endpoint: String(values.endpoint),
    certFile: String(values.cert),
    keyFile: String(values.key),
    caFile: String(values.ca),
    thing: values.thing as string | undefined,
    out: values.out as string | undefined,
  });
  for (const warning of result.warnings) io.err(`provision: warning: ${warning}\n`);
  for (const file of result.files) io.out(`wrote ${file}\n`);
  io.out(`thing ${result.config.thing} at ${result.config.endpoint}:${result.config.port}\n`);
}

async function dispatch(argv: string[], io: ProvisionIo): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'dev-pki':
      return devPki(rest, io);
    case 'import':
      return importCommand(rest, io);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      io.out(USAGE);
      return;
    default:
      throw new ProvisionError(`unknown command "${command}"`, 'use dev-pki or import (npm run provision -- --help)');
  }
}

/** Runs one command line; resolves to the exit status (0, or 2 after one line on `io.err`). */
export async function runProvision(argv: string[], io: ProvisionIo): Promise<number> {
  try {
    await dispatch(argv, io);
    return 0;
  } catch (error) {
    io.err(`provision: ${describe(error)}\n`);
    return 2;
  }
}

/** One line for any failure; a message that could quote key material is never shown. */
function describe(error: unknown): string {
  if (error instanceof ProvisionError) return `${error.what} — ${error.todo}`;
  const errno = error as NodeJS.ErrnoException;
  if (errno?.code && errno.path) {
    return `cannot use ${errno.path} (${errno.code}) — check that the directory exists and is writable`;
  }
  const firstLine = String(errno?.message ?? error).split('\n')[0].slice(0, 200);
  const safe = /PRIVATE KEY|[A-Za-z0-9+/=]{40,}/.test(firstLine) ? 'details withheld' : firstLine;
  return `unexpected failure (${errno?.code ?? errno?.name ?? 'error'}: ${safe}) — rerun; if it persists, report it with the command line used`;
}
