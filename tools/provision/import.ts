/**
 * Turns the credentials AWS IoT hands out (device certificate, private key,
 * Amazon root CA, all PEM) into what the firmware loads: DER resources for
 * Moddable's TLS and a `config.json`, plus the PEM set the simulator reads.
 *
 * Moddable's `clientKey` is parsed by `modules/crypt/etc/pkcs8.js` (called from
 * `ssl/cert.js`), which reads a PKCS#8 PrivateKeyInfo, and mbedTLS's
 * `mbedtls_pk_parse_key` reads the same, so `device.key.der` is unencrypted
 * PKCS#8 DER; Moddable's AWS guide converts with
 * `openssl pkcs8 -topk8 -outform der -nocrypt` for the same reason.
 *
 * Device keys: RSA (2048 bits or more, what `create-keys-and-certificate`
 * makes) or ECDSA on P-256 (what an AWS CSR flow with an EC key makes).
 * Anything else is refused: the device TLS cannot sign with it.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { clientIdProblem, ProvisionError } from './errors';
import { splitPemCertificates, writeSecureAware } from './pem';

export const DEFAULT_CREDENTIALS_DIR = 'credentials';

/** `<prefix>-ats.iot.<region>.amazonaws.com`, the ATS data endpoint form. */
const ATS_ENDPOINT = /^[a-z0-9]+-ats\.iot\.[a-z]{2,}(-[a-z]+)+-\d+\.amazonaws\.com(\.cn)?$/;

export interface ImportOptions {
  endpoint: string;
  certFile: string;
  keyFile: string;
  caFile: string;
  /** Default: the certificate's CN. */
  thing?: string;
  /** Default `credentials/`. */
  out?: string;
  /** For tests of date checks; default now. */
  now?: Date;
}

export interface DeviceConfig {
  endpoint: string;
  thing: string;
  port: 443;
}

export interface ImportResult {
  config: DeviceConfig;
  files: string[];
  /** Problems that do not stop the import; one line each. */
  warnings: string[];
}

export function endpointWarning(endpoint: string): string | undefined {
  if (ATS_ENDPOINT.test(endpoint)) return undefined;
  return (
    `endpoint "${endpoint}" does not look like <prefix>-ats.iot.<region>.amazonaws.com — ` +
    'copy it from `aws iot describe-endpoint --endpoint-type iot:Data-ATS` (host name only, no scheme or port)'
  );
}

export async function importCredentials(options: ImportOptions): Promise<ImportResult> {
  const now = options.now ?? new Date();
  const warnings: string[] = [];
  const endpoint = options.endpoint.trim();
  if (endpoint.length === 0) {
    throw new ProvisionError('--endpoint is empty', 'pass the Data-ATS endpoint host name');
  }
  const endpointProblem = endpointWarning(endpoint);
  if (endpointProblem) warnings.push(endpointProblem);

  const certPem = await readText(options.certFile, '--cert');
  const keyPem = await readText(options.keyFile, '--key');
  const caPem = await readText(options.caFile, '--ca');

  const cert = parseCertificate(certPem, options.certFile, '--cert', 'the device certificate (xxx-certificate.pem.crt)');
  const key = parsePrivateKey(keyPem, options.keyFile);
  const caBlocks = splitPemCertificates(caPem);
  const ca = parseCertificate(caPem, options.caFile, '--ca', 'the Amazon root CA (AmazonRootCA1.pem)');
  if (caBlocks.length > 1) {
    warnings.push(`--ca ${options.caFile} holds ${caBlocks.length} certificates; only the first is written to ca.der`);
  }

  const certSpki = cert.publicKey.export({ type: 'spki', format: 'der' });
  const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!certSpki.equals(keySpki)) {
    throw new ProvisionError(
      `--key ${options.keyFile} does not match --cert ${options.certFile} (their public keys differ)`,
      'pass the private key that was downloaded with this certificate',
    );
  }

  checkDates(cert, '--cert', options.certFile, now, 'create and activate a new device certificate');
  checkDates(ca, '--ca', options.caFile, now, 'download the current Amazon root CA');
  if (!ca.ca) {
    throw new ProvisionError(
      `--ca ${options.caFile} is not a CA certificate (basicConstraints CA:FALSE or absent); the device could not verify the endpoint with it`,
      'pass the Amazon root CA (AmazonRootCA1.pem, or AmazonRootCA3.pem for ECC)',
    );
  }
  const keyProblem = unsupportedKey(key);
  if (keyProblem !== undefined) {
    throw new ProvisionError(
      `--key ${options.keyFile} is ${keyProblem}; the device signs with RSA (2048 bits or more) or ECDSA P-256 only`,
      'create the certificate with an RSA-2048 or EC P-256 key (aws iot create-keys-and-certificate makes RSA-2048)',
    );
  }

  const thing = options.thing ?? commonName(cert);
  if (thing === undefined) {
    throw new ProvisionError(`--cert ${options.certFile} has no CN to use as thing name`, 'pass --thing NAME');
  }
  const problem = clientIdProblem(thing);
  if (problem) {
    const source = options.thing === undefined ? `the certificate's CN "${thing}"` : `--thing "${thing}"`;
    throw new ProvisionError(`${source} ${problem} and is used as MQTT client id`, 'pass --thing NAME with a valid thing name');
  }
  if (!/^[a-zA-Z0-9:_-]+$/.test(thing)) {
    const hint = options.thing === undefined ? ' (AWS-issued certificates have CN "AWS IoT Certificate"; pass --thing NAME)' : '';
    warnings.push(`thing name "${thing}" has characters AWS does not allow in thing names (a-z A-Z 0-9 : _ -)${hint}`);
  }

  const out = resolve(options.out ?? DEFAULT_CREDENTIALS_DIR);
  await mkdir(out, { recursive: true, mode: 0o700 });
  const config: DeviceConfig = { endpoint, thing, port: 443 };
  const files: Array<[string, string | Uint8Array, 'public' | 'secret']> = [
    ['ca.der', new Uint8Array(ca.raw), 'public'],
    ['device.der', new Uint8Array(cert.raw), 'public'],
    ['device.key.der', new Uint8Array(key.export({ type: 'pkcs8', format: 'der' })), 'secret'],
    ['root-ca.pem', ca.toString(), 'public'],
    ['device.pem', cert.toString(), 'public'],
    ['device.key', String(key.export({ type: 'pkcs8', format: 'pem' })), 'secret'],
    ['config.json', `${JSON.stringify(config, null, 2)}\n`, 'public'],
  ];
  const written: string[] = [];
  for (const [name, data, kind] of files) {
    const path = join(out, name);
    await writeSecureAware(path, data, kind);
    written.push(path);
  }
  return { config, files: written, warnings };
}

/** Why the device cannot sign with `key`, or undefined when it can. */
export function unsupportedKey(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return (details.modulusLength ?? 0) >= 2048 ? undefined : `an RSA-${details.modulusLength ?? '?'} key`;
    case 'ec':
      return details.namedCurve === 'prime256v1' ? undefined : `an EC key on ${details.namedCurve ?? 'an unnamed curve'}`;
    default:
      return `a${/^[aeiou]/i.test(key.asymmetricKeyType ?? '') ? 'n' : ''} ${(key.asymmetricKeyType ?? 'unknown').toUpperCase()} key`;
  }
}

async function readText(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? 'unreadable');
    throw new ProvisionError(`cannot read ${flag} ${path} (${why})`, 'check the path');
  }
}

function parseCertificate(pem: string, path: string, flag: string, expected: string): X509Certificate {
  const first = splitPemCertificates(pem)[0];
  if (first !== undefined) {
    try {
      return new X509Certificate(first);
    } catch {
      // fall through: reported below without the parser's message
    }
  }
  throw new ProvisionError(`${flag} ${path} is not a PEM certificate`, `pass ${expected}`);
}

function parsePrivateKey(pem: string, path: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (error) {
    // The parser's message is never shown: it is about the key's contents.
    if ((error as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE') {
      throw new ProvisionError(`--key ${path} is encrypted`, 'decrypt it first (openssl pkey -in KEY -out KEY.plain)');
    }
    throw new ProvisionError(`--key ${path} is not a PEM private key`, 'pass the private key downloaded with the certificate (xxx-private.pem.key)');
  }
}

function checkDates(cert: X509Certificate, flag: string, path: string, now: Date, todo: string): void {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now < from) {
    throw new ProvisionError(`${flag} ${path} is not valid before ${from.toISOString()}`, `check this machine's clock or ${todo}`);
  }
  if (now > to) {
    throw new ProvisionError(`${flag} ${path} expired on ${to.toISOString()}`, todo);
  }
}

function commonName(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split('\n')) {
    if (line.startsWith('CN=')) return line.slice(3);
  }
  return undefined;
}
