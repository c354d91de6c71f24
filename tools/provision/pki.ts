/**
 * A throwaway test PKI shaped like the one a device meets at AWS IoT Core:
 * a root CA, an intermediate that signs the endpoint's certificate, a leaf
 * whose SAN is the region's wildcard (`*.iot.<region>.amazonaws.com`), and
 * device certificates signed by the root (AWS signs device certificates with
 * its own CA; for tests the root stands in for it).
 *
 * Everything is made at run time with @peculiar/x509 over Node's WebCrypto;
 * nothing here is committed. The CAs and the endpoint are RSA-2048 (as AWS's
 * RSA chain); device keys are RSA-2048 or ECDSA P-256 (`keyType`), the two
 * kinds AWS IoT issues and the device TLS signs CertificateVerify with.
 */
// @peculiar/x509 resolves its algorithm providers with tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import { access, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { lock } from 'proper-lockfile';
import * as x509 from '@peculiar/x509';
import { DEFAULT_ENDPOINT_NAME, SIM_EPOCH_MS } from './defaults';
import { ProvisionError } from './errors';
import { issuedBy, pemToDer, splitPemCertificates, writeSecureAware } from './pem';

x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);

export { AWS_MQTT_ALPN, DEFAULT_DEV_PKI_DIR, DEFAULT_ENDPOINT_NAME, SIM_EPOCH_MS } from './defaults';
export { issuedBy, pemToDer, splitPemCertificates, writeSecureAware } from './pem';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdating absorbs clock skew between the machine that signs and the one that checks. */
const BACKDATE_MS = 60 * 60 * 1000;

export const RSA: webcrypto.RsaHashedKeyGenParams = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
};

/** ECDSA with SHA-256 on P-256 (secp256r1), the curve AWS IoT and mbedTLS's PSA drivers support in hardware. */
export const EC: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

/** The kinds of device key: `rsa` is RSA-2048, `ec` is ECDSA P-256. */
export type DeviceKeyType = 'rsa' | 'ec';
export const DEVICE_KEY_TYPES: readonly DeviceKeyType[] = ['rsa', 'ec'];

/** A certificate with the private key of its subject, both PEM (the key PKCS#8). */
export interface CertifiedKey {
  cert: string;
  key: string;
}

/** A server's credentials: `chain` is the leaf followed by the intermediate. */
export interface ServerCredentials {
  chain: string;
  key: string;
}

export interface DeviceCredentials extends CertifiedKey {
  /** The certificate's CN, used as thing name and MQTT client id. */
  thing: string;
}

export interface Pki {
  endpointName: string;
  /** Trust anchor for the endpoint's chain and for device certificates. */
  rootCa: string;
  intermediateCa: string;
  endpoint: ServerCredentials & { cert: string };
  /** `devices[0]` is the one written as `device.*`. */
  devices: DeviceCredentials[];
  /** Material for tests that must fail. */
  negative: {
    /** Same key and SAN as the endpoint, expired 1 day before `now`. */
    expiredEndpoint: ServerCredentials;
    /** Signed by the intermediate, but for `*.iot.other-region-9.amazonaws.com`. */
    otherNameEndpoint: ServerCredentials & { name: string };
    /** A root that signed nothing the endpoint uses. */
    otherRootCa: string;
    /** A device certificate signed by `otherRootCa`, with the key of `devices[0]`. */
    otherCaDevice: CertifiedKey;
  };
  /** Absolute paths written, when `out` was given. */
  files: string[];
}

export interface DevPkiOptions {
  /** Directory to write the files into; nothing is written when omitted. */
  out?: string;
  /** Default `DEFAULT_ENDPOINT_NAME`. */
  endpointName?: string;
  /** Number of device certificates, default 1. */
  devices?: number;
  /** Device key type, default `rsa`. */
  keyType?: DeviceKeyType;
  /** Certificate lifetime, default 30 days. */
  validityDays?: number;
  /**
   * Issue time, default now. A past date yields certificates that have already expired.
   * Certificates are valid from an hour before it, or from `SIM_EPOCH_MS` when that is earlier.
   */
  now?: Date;
  /** Progress for a CLI; called before each slow step. */
  onProgress?: (step: string) => void;
}

/** `local-ats.iot.sim-local-1.amazonaws.com` -> `*.iot.sim-local-1.amazonaws.com`. */
export function wildcardFor(endpointName: string): string {
  const dot = endpointName.indexOf('.');
  if (dot <= 0 || endpointName.indexOf('.', dot + 1) < 0) {
    throw new Error(`endpoint name "${endpointName}" has too few labels for a wildcard`);
  }
  return `*${endpointName.slice(dot)}`;
}

export function thingNameForIndex(index: number): string {
  return `sim-thing-${index + 1}`;
}

interface Authority {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export async function generateDevPki(options: DevPkiOptions = {}): Promise<Pki> {
  const endpointName = options.endpointName ?? DEFAULT_ENDPOINT_NAME;
  const deviceCount = options.devices ?? 1;
  const keyType = options.keyType ?? 'rsa';
  if (!DEVICE_KEY_TYPES.includes(keyType)) throw new RangeError(`keyType must be rsa or ec, got ${String(keyType)}`);
  if (!Number.isInteger(deviceCount) || deviceCount < 1 || deviceCount > 100) {
    throw new RangeError(`devices must be an integer 1..100, got ${deviceCount}`);
  }
  const now = options.now ?? new Date();
  const validityDays = options.validityDays ?? 30;
  const validity: Validity = {
    notBefore: new Date(Math.min(now.getTime() - BACKDATE_MS, SIM_EPOCH_MS)),
    notAfter: new Date(now.getTime() + validityDays * DAY_MS),
  };
  const progress = options.onProgress ?? (() => {});
  const wildcard = wildcardFor(endpointName);

  progress('root CA');
  const root = await selfSignedCa('Fieldlink Test Root CA', validity);
  progress('intermediate CA');
  const intermediate = await issueCa('Fieldlink Test Intermediate CA', root, validity);
  progress('endpoint certificate');
  const endpointKeys = await newKeys();
  const endpointCert = await issueServer(endpointName, wildcard, endpointKeys, intermediate, validity);

  const devices: DeviceCredentials[] = [];
  const deviceKeys: CryptoKeyPair[] = [];
  for (let i = 0; i < deviceCount; i++) {
    progress(`device certificate ${i + 1}/${deviceCount}`);
    const thing = thingNameForIndex(i);
    const keys = await newKeys(keyType);
    deviceKeys.push(keys);
    const cert = await issueClient(thing, keys, root, validity);
    devices.push({ thing, cert: cert.toString('pem'), key: await privatePem(keys) });
  }

  progress('negative-test material');
  const expired = await issueServer(endpointName, wildcard, endpointKeys, intermediate, {
    notBefore: new Date(now.getTime() - 31 * DAY_MS),
    notAfter: new Date(now.getTime() - DAY_MS),
  });
  const otherName = 'other-ats.iot.other-region-9.amazonaws.com';
  const otherNameCert = await issueServer(otherName, wildcardFor(otherName), endpointKeys, intermediate, validity);
  const otherRoot = await selfSignedCa('Fieldlink Unrelated Root CA', validity);
  const otherCaDevice = await issueClient(devices[0].thing, deviceKeys[0], otherRoot, validity);

  const intermediatePem = intermediate.cert.toString('pem');
  const endpointKeyPem = await privatePem(endpointKeys);
  const pki: Pki = {
    endpointName,
    rootCa: root.cert.toString('pem'),
    intermediateCa: intermediatePem,
    endpoint: {
      cert: endpointCert.toString('pem'),
      chain: joinPem(endpointCert.toString('pem'), intermediatePem),
      key: endpointKeyPem,
    },
    devices,
    negative: {
      expiredEndpoint: { chain: joinPem(expired.toString('pem'), intermediatePem), key: endpointKeyPem },
      otherNameEndpoint: {
        name: otherName,
        chain: joinPem(otherNameCert.toString('pem'), intermediatePem),
        key: endpointKeyPem,
      },
      otherRootCa: otherRoot.cert.toString('pem'),
      otherCaDevice: { cert: otherCaDevice.toString('pem'), key: devices[0].key },
    },
    files: [],
  };
  if (options.out !== undefined) {
    pki.files = await writeDevPki(pki, options.out);
  }
  return pki;
}

/** One file of a dev PKI directory, by its name relative to the directory. */
export interface PkiFile {
  name: string;
  data: string | Uint8Array;
  kind: 'public' | 'secret';
}

/**
 * The files of a dev PKI directory: the PEM set for host tools, the DER set for
 * Moddable resources (`ca.der`, `device.der`, `device.key.der`), and the
 * negative material under `negative/`.
 */
export function devPkiFiles(pki: Pki): PkiFile[] {
  const files: PkiFile[] = [
    { name: 'root-ca.pem', data: pki.rootCa, kind: 'public' },
    { name: 'intermediate-ca.pem', data: pki.intermediateCa, kind: 'public' },
    { name: 'endpoint-chain.pem', data: pki.endpoint.chain, kind: 'public' },
    { name: 'endpoint.key', data: pki.endpoint.key, kind: 'secret' },
    { name: 'ca.der', data: pemToDer(pki.rootCa), kind: 'public' },
  ];
  pki.devices.forEach((device, i) => {
    const base = i === 0 ? 'device' : `device-${i + 1}`;
    files.push(
      { name: `${base}.pem`, data: device.cert, kind: 'public' },
      { name: `${base}.key`, data: device.key, kind: 'secret' },
      { name: `${base}.der`, data: pemToDer(device.cert), kind: 'public' },
      { name: `${base}.key.der`, data: pemToDer(device.key), kind: 'secret' },
    );
  });
  const n = pki.negative;
  files.push(
    { name: 'negative/expired-endpoint-chain.pem', data: n.expiredEndpoint.chain, kind: 'public' },
    { name: 'negative/other-name-endpoint-chain.pem', data: n.otherNameEndpoint.chain, kind: 'public' },
    { name: 'negative/other-root-ca.pem', data: n.otherRootCa, kind: 'public' },
    { name: 'negative/other-ca-device.pem', data: n.otherCaDevice.cert, kind: 'public' },
  );
  return files;
}

/** The text files of a dev PKI by name: what a simulated device's credential names resolve to. */
export function devPkiTextFiles(pki: Pki): Record<string, string> {
  const text: Record<string, string> = {};
  for (const file of devPkiFiles(pki)) if (typeof file.data === 'string') text[file.name] = file.data;
  return text;
}

/** Writes `devPkiFiles(pki)` into `dir` (keys 0600). Returns the paths written. */
export async function writeDevPki(pki: Pki, dir: string): Promise<string[]> {
  await mkdir(join(dir, 'negative'), { recursive: true, mode: 0o700 });
  const written: string[] = [];
  for (const { name, data, kind } of devPkiFiles(pki)) {
    const path = join(dir, name);
    await writeSecureAware(path, data, kind);
    written.push(path);
  }
  return written;
}

/**
 * True when the PKI expires within a day (or has expired). Every certificate of
 * one PKI is issued with the same validity, so the endpoint's and the first
 * device's stand for all.
 */
function expiresSoon(pki: Pki): boolean {
  const soon = Date.now() + DAY_MS;
  return [pki.endpoint.cert, pki.devices[0].cert].some((pem) => Date.parse(new NodeX509(pem).validTo) < soon);
}

/**
 * The files a simulation uses (root, intermediate, endpoint chain, `device.pem`)
 * belong to one PKI, not half of one being replaced while it was read. Only the
 * first device is checked: one signature check per device would cost about
 * 0.4 ms each at every simulation start.
 */
function consistent(pki: Pki): boolean {
  return (
    pki.devices.length > 0 &&
    issuedBy(pki.endpoint.cert, pki.intermediateCa) &&
    issuedBy(pki.intermediateCa, pki.rootCa) &&
    issuedBy(pki.devices[0].cert, pki.rootCa)
  );
}

/**
 * The dev PKI in `dir`, made (or remade, when it expires within a day, is not
 * valid at `SIM_EPOCH_MS`, or has fewer than `devices` device certificates) if needed. Safe when several
 * processes call it at once, as parallel tests do: making is serialised by a
 * lock file (`<dir>.lock`), and a new PKI is written beside `dir` and renamed
 * into place, so a reader sees a whole PKI or none. A remade PKI keeps at least
 * as many device certificates as the one it replaces.
 */
export async function ensureDevPki(dir: string, options: { devices?: number; onMake?: (reason: string) => void } = {}): Promise<Pki> {
  const wanted = options.devices ?? 1;
  const current = async (): Promise<{ pki: Pki; why?: undefined } | { pki?: Pki; why: string }> => {
    if (!(await hasDevPki(dir))) return { why: 'none yet' };
    const pki = await readDevPki(dir).catch(() => undefined);
    if (!pki || !consistent(pki)) return { why: 'its files do not belong together' };
    if (expiresSoon(pki)) return { pki, why: 'it expires within a day' };
    if (Date.parse(new NodeX509(pki.endpoint.cert).validFrom) > SIM_EPOCH_MS) return { pki, why: 'it is not valid at the simulator\'s epoch' };
    if (pki.devices.length < wanted) return { pki, why: `it has ${pki.devices.length} device certificates, ${wanted} wanted` };
    return { pki };
  };
  const first = await current();
  if (first.why === undefined) return first.pki;

  return withDevPkiLock(dir, async () => {
    const now = await current();
    if (now.why === undefined) return now.pki;
    options.onMake?.(now.why);
    const pki = await generateDevPki({ devices: Math.max(wanted, now.pki?.devices.length ?? 0) });
    pki.files = await swapInDevPki(pki, dir);
    return pki;
  });
}

/**
 * Writes `pki` as the dev PKI in `dir`, replacing whatever is there as a whole,
 * under the same lock as `ensureDevPki` (for `npm run provision -- dev-pki`).
 */
export async function replaceDevPki(pki: Pki, dir: string): Promise<string[]> {
  return withDevPkiLock(dir, () => swapInDevPki(pki, dir));
}

/** Runs `fn` holding `<dir>.lock`; a lock whose holder died is taken over after 30 s. */
async function withDevPkiLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(dir), { recursive: true });
  const release = await lock(dir, {
    realpath: false,
    lockfilePath: `${dir}.lock`,
    stale: 30_000,
    retries: { retries: 600, minTimeout: 50, maxTimeout: 200 },
  });
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** Writes `pki` beside `dir`, then renames it into place: a reader sees the old PKI, the new one, or none. */
async function swapInDevPki(pki: Pki, dir: string): Promise<string[]> {
  await refuseForeignDirectory(dir); // checked again here: the directory may have changed while the PKI was made
  const fresh = `${dir}.new-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  await rm(fresh, { recursive: true, force: true });
  await writeDevPki(pki, fresh);
  await rm(old, { recursive: true, force: true });
  await rename(dir, old).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await rename(fresh, dir);
  await rm(old, { recursive: true, force: true });
  return devPkiFiles(pki).map((f) => join(dir, f.name));
}

/** A name `devPkiFiles` can produce (any device count), or a temporary file of `writeSecureAware`. */
const DEV_PKI_NAME = /^(root-ca\.pem|intermediate-ca\.pem|endpoint-chain\.pem|endpoint\.key|ca\.der|device(-\d+)?\.(pem|key|der|key\.der)|negative|negative\/(expired-endpoint-chain|other-name-endpoint-chain|other-root-ca|other-ca-device)\.pem|(negative\/)?\..+\.tmp)$/;

/**
 * Replacing `dir` deletes it, so it must be absent, empty, or a dev PKI and
 * nothing else: `--out .` or `--out ~/project` is refused, never emptied.
 */
export async function refuseForeignDirectory(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir); // not recursive: `--out /` must be refused at once
    if (names.includes('negative')) names.push(...(await readdir(join(dir, 'negative')).catch(() => [])).map((n) => `negative/${n}`));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new ProvisionError(`--out ${dir} is a file, not a directory`, 'pass a new or empty directory, or an existing dev PKI');
    throw error;
  }
  if (names.length === 0) return;
  const foreign = names.find((n) => !DEV_PKI_NAME.test(n));
  if (foreign !== undefined || !(await hasDevPki(dir))) {
    const why = foreign !== undefined ? `holds ${foreign}, which is not part of a dev PKI` : 'is not a complete dev PKI';
    throw new ProvisionError(`--out ${dir} is not empty and ${why}; replacing it would delete it`, 'pass a new or empty directory, or an existing dev PKI');
  }
}

/** True when `dir` holds a complete dev PKI as written by `writeDevPki`. */
export async function hasDevPki(dir: string): Promise<boolean> {
  try {
    for (const name of REQUIRED_FILES) await access(join(dir, name));
    return true;
  } catch {
    return false;
  }
}

const REQUIRED_FILES = [
  'root-ca.pem',
  'intermediate-ca.pem',
  'endpoint-chain.pem',
  'endpoint.key',
  'device.pem',
  'device.key',
  'negative/expired-endpoint-chain.pem',
  'negative/other-name-endpoint-chain.pem',
  'negative/other-root-ca.pem',
  'negative/other-ca-device.pem',
];

/** Reads back a PKI written by `writeDevPki`; the endpoint name comes from the leaf's CN. */
export async function readDevPki(dir: string): Promise<Pki> {
  const read = (name: string) => readFile(join(dir, name), 'utf8');
  const chain = await read('endpoint-chain.pem');
  const leaf = new NodeX509(splitPemCertificates(chain)[0] ?? '');
  const endpointName = /^CN=(.*)$/m.exec(leaf.subject)?.[1] ?? '';
  const devices: DeviceCredentials[] = [];
  for (let i = 0; ; i++) {
    const base = i === 0 ? 'device' : `device-${i + 1}`;
    let cert: string;
    try {
      cert = await read(`${base}.pem`);
    } catch {
      break;
    }
    const thing = /^CN=(.*)$/m.exec(new NodeX509(cert).subject)?.[1] ?? thingNameForIndex(i);
    devices.push({ thing, cert, key: await read(`${base}.key`) });
  }
  const endpointKey = await read('endpoint.key');
  const otherNameChain = await read('negative/other-name-endpoint-chain.pem');
  const otherLeaf = new NodeX509(splitPemCertificates(otherNameChain)[0] ?? '');
  return {
    endpointName,
    rootCa: await read('root-ca.pem'),
    intermediateCa: await read('intermediate-ca.pem'),
    endpoint: { cert: leaf.toString(), chain, key: endpointKey },
    devices,
    negative: {
      expiredEndpoint: { chain: await read('negative/expired-endpoint-chain.pem'), key: endpointKey },
      otherNameEndpoint: {
        name: /^CN=(.*)$/m.exec(otherLeaf.subject)?.[1] ?? '',
        chain: otherNameChain,
        key: endpointKey,
      },
      otherRootCa: await read('negative/other-root-ca.pem'),
      otherCaDevice: { cert: await read('negative/other-ca-device.pem'), key: devices[0]?.key ?? '' },
    },
    files: [],
  };
}

function joinPem(...blocks: string[]): string {
  return blocks.map((b) => b.trim()).join('\n') + '\n';
}

async function newKeys(type: DeviceKeyType = 'rsa'): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(type === 'ec' ? EC : RSA, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privatePem(keys: CryptoKeyPair): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // positive INTEGER [RFC 5280 4.1.2.2]
  return Buffer.from(bytes).toString('hex');
}

async function selfSignedCa(cn: string, validity: Validity): Promise<Authority> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${cn}, O=Fieldlink Test`,
    ...validity,
    keys,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

async function issueCa(cn: string, issuer: Authority, validity: Validity): Promise<Authority> {
  const keys = await newKeys();
  const cert = await issue(`CN=${cn}, O=Fieldlink Test`, keys.publicKey, issuer, validity, [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ]);
  return { cert, keys };
}

async function issueServer(
  cn: string,
  san: string,
  keys: CryptoKeyPair,
  issuer: Authority,
  validity: Validity,
): Promise<x509.X509Certificate> {
  return issue(`CN=${cn}`, keys.publicKey, issuer, validity, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: san }]),
  ]);
}

async function issueClient(
  thing: string,
  keys: CryptoKeyPair,
  issuer: Authority,
  validity: Validity,
): Promise<x509.X509Certificate> {
  // keyEncipherment is for RSA key transport; an EC key only signs [RFC 5480 3].
  const usage = keys.publicKey.algorithm.name === 'ECDSA' ? x509.KeyUsageFlags.digitalSignature : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
  return issue(`CN=${thing}`, keys.publicKey, issuer, validity, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
  ]);
}

async function issue(
  subject: string,
  publicKey: CryptoKey,
  issuer: Authority,
  validity: Validity,
  extensions: x509.Extension[],
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: issuer.cert.subjectName,
    ...validity,
    publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: RSA,
    extensions: [
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
    ],
  });
}
