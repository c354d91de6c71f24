/**
 * Impostor endpoints for the TLS negative matrix, shared by the two runs that
 * must agree: the XS simulator's TLS (test-sim/net/secure.ts, Node) in
 * negative-matrix.test.ts, and the device's Mbed TLS in the Moddable
 * simulator (test-sim/test/moddable/tls-matrix.test.ts).
 *
 * `makeFixturePki` makes its own PKI at run time (@peculiar/x509 over Node's
 * WebCrypto, nothing committed): an AWS-like chain (root -> intermediate ->
 * leaf with a wildcard SAN), an RSA-2048 and an ECDSA P-256 device, and the
 * forged and broken chains the cases serve. Each case is the local endpoint
 * (aedes behind Node's TLS) with one thing changed; the server side counts
 * every MQTT byte, so a case can assert that none arrived.
 */
// @peculiar/x509 resolves its algorithm providers with tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import net from 'node:net';
import * as x509 from '@peculiar/x509';
import { createLocalEndpoint, type LocalEndpoint, type LocalEndpointOptions } from '../../endpoint/endpoint';
import { AWS_MQTT_ALPN, DEFAULT_ENDPOINT_NAME, EC, RSA, wildcardFor, type DeviceCredentials, type Pki, type ServerCredentials } from '../../../tools/provision/pki';
import type { CertFailure, LinkErrorCategory } from '../../../hal/types';

x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);

type CryptoKeyPair = webcrypto.CryptoKeyPair;

const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
const RSA_SHA256 = RSA;
const EC_P256 = EC;

/** The fixture's PKI: a `Pki` for createLocalEndpoint plus what only impostors need. */
export interface FixturePki extends Pki {
  /** A device with an ECDSA P-256 key, certificate signed by the root. */
  ecDevice: DeviceCredentials;
  /** Server credentials of the broken and forged chains, by case. */
  chains: {
    selfSignedLeaf: ServerCredentials;
    forgedLeafBeforeRealLeaf: ServerCredentials;
    signedByDevice: ServerCredentials;
    notYetValid: ServerCredentials;
    untrustedRoot: ServerCredentials;
    clientAuthOnly: ServerCredentials;
    sha1Signed: ServerCredentials;
  };
}

interface Authority {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  algorithm: webcrypto.RsaHashedKeyGenParams | typeof EC_P256;
}

interface Validity {
  notBefore: Date;
  notAfter: Date;
}

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  return Buffer.from(bytes).toString('hex');
}

async function rsaKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(RSA_SHA256, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function ecKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function pkcs8(keys: CryptoKeyPair): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
}

const pem = (...certs: x509.X509Certificate[]): string => certs.map((c) => c.toString('pem').trim()).join('\n') + '\n';

async function rootCa(cn: string, validity: Validity): Promise<Authority> {
  const keys = await rsaKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${cn}, O=Fieldlink Impostor Fixture`,
    ...validity,
    keys,
    signingAlgorithm: RSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, algorithm: RSA_SHA256 };
}

interface IssueOptions {
  subject: string;
  keys: CryptoKeyPair;
  issuer: Authority;
  validity: Validity;
  extensions: x509.Extension[];
}

async function issue(options: IssueOptions): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: options.subject,
    issuer: options.issuer.cert.subjectName,
    ...options.validity,
    publicKey: options.keys.publicKey,
    signingKey: options.issuer.keys.privateKey,
    signingAlgorithm: options.issuer.algorithm,
    extensions: [
      ...options.extensions,
      await x509.SubjectKeyIdentifierExtension.create(options.keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(options.issuer.keys.publicKey),
    ],
  });
}

async function intermediateCa(cn: string, root: Authority, validity: Validity): Promise<Authority> {
  const keys = await rsaKeys();
  const cert = await issue({
    subject: `CN=${cn}, O=Fieldlink Impostor Fixture`,
    keys,
    issuer: root,
    validity,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { cert, keys, algorithm: RSA_SHA256 };
}

function serverExtensions(san: string, usage: string = x509.ExtendedKeyUsage.serverAuth): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([usage]),
    new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: san }]),
  ];
}

function deviceExtensions(): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
  ];
}

export async function makeFixturePki(endpointName = DEFAULT_ENDPOINT_NAME): Promise<FixturePki> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - HOUR_MS), notAfter: new Date(now + 30 * DAY_MS) };
  const san = wildcardFor(endpointName);

  const root = await rootCa('Fixture Root CA', validity);
  const intermediate = await intermediateCa('Fixture Intermediate CA', root, validity);
  const serverKeys = await rsaKeys();
  const serverKey = await pkcs8(serverKeys);
  const leaf = await issue({ subject: `CN=${endpointName}`, keys: serverKeys, issuer: intermediate, validity, extensions: serverExtensions(san) });

  const rsaDeviceKeys = await rsaKeys();
  const rsaDevice = await issue({ subject: 'CN=sim-thing-1', keys: rsaDeviceKeys, issuer: root, validity, extensions: deviceExtensions() });
  const ecDeviceKeys = await ecKeys();
  const ecDevice = await issue({ subject: 'CN=sim-thing-ec', keys: ecDeviceKeys, issuer: root, validity, extensions: deviceExtensions() });

  // An attacker: its own key, no CA key, the public intermediate.
  const attackerKeys = await rsaKeys();
  const attackerKey = await pkcs8(attackerKeys);
  const selfSigned = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${endpointName}`,
    ...validity,
    keys: attackerKeys,
    signingAlgorithm: RSA_SHA256,
    extensions: serverExtensions(san),
  });
  // Claims the real intermediate as issuer (same name), signed with the attacker's key.
  const fakeIntermediate: Authority = { cert: intermediate.cert, keys: attackerKeys, algorithm: RSA_SHA256 };
  const forgedLeaf = await issue({ subject: `CN=${endpointName}`, keys: attackerKeys, issuer: fakeIntermediate, validity, extensions: serverExtensions(san) });
  // A device certificate (CA:FALSE) used as if it were a CA.
  const deviceAsCa: Authority = { cert: rsaDevice, keys: rsaDeviceKeys, algorithm: RSA_SHA256 };
  const underDevice = await issue({ subject: `CN=${endpointName}`, keys: attackerKeys, issuer: deviceAsCa, validity, extensions: serverExtensions(san) });

  const notYetValid = await issue({
    subject: `CN=${endpointName}`,
    keys: serverKeys,
    issuer: intermediate,
    validity: { notBefore: new Date(now + DAY_MS), notAfter: new Date(now + 30 * DAY_MS) },
    extensions: serverExtensions(san),
  });
  const expired = await issue({
    subject: `CN=${endpointName}`,
    keys: serverKeys,
    issuer: intermediate,
    validity: { notBefore: new Date(now - 31 * DAY_MS), notAfter: new Date(now - DAY_MS) },
    extensions: serverExtensions(san),
  });
  const otherName = 'other-ats.iot.other-region-9.amazonaws.com';
  const otherNameLeaf = await issue({ subject: `CN=${otherName}`, keys: serverKeys, issuer: intermediate, validity, extensions: serverExtensions(wildcardFor(otherName)) });
  const clientAuthOnly = await issue({
    subject: `CN=${endpointName}`,
    keys: serverKeys,
    issuer: intermediate,
    validity,
    extensions: serverExtensions(san, x509.ExtendedKeyUsage.clientAuth),
  });
  // WebCrypto binds the hash to the key: the intermediate's key again, imported for SHA-1.
  const sha1: webcrypto.RsaHashedImportParams = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' };
  const sha1PrivateKey = await webcrypto.subtle.importKey('pkcs8', await webcrypto.subtle.exportKey('pkcs8', intermediate.keys.privateKey), sha1, false, ['sign']);
  const sha1Signed = await issue({
    subject: `CN=${endpointName}`,
    keys: serverKeys,
    issuer: { cert: intermediate.cert, keys: { privateKey: sha1PrivateKey, publicKey: intermediate.keys.publicKey }, algorithm: { ...RSA_SHA256, hash: 'SHA-1' } },
    validity,
    extensions: serverExtensions(san),
  });

  const otherRoot = await rootCa('Unrelated Root CA', validity);
  const otherIntermediate = await intermediateCa('Unrelated Intermediate CA', otherRoot, validity);
  const otherRootLeaf = await issue({ subject: `CN=${endpointName}`, keys: serverKeys, issuer: otherIntermediate, validity, extensions: serverExtensions(san) });
  const otherCaDevice = await issue({ subject: 'CN=sim-thing-1', keys: rsaDeviceKeys, issuer: otherRoot, validity, extensions: deviceExtensions() });

  const rsaDeviceKey = await pkcs8(rsaDeviceKeys);
  return {
    endpointName,
    rootCa: pem(root.cert),
    intermediateCa: pem(intermediate.cert),
    endpoint: { cert: pem(leaf), chain: pem(leaf, intermediate.cert), key: serverKey },
    devices: [{ thing: 'sim-thing-1', cert: pem(rsaDevice), key: rsaDeviceKey }],
    ecDevice: { thing: 'sim-thing-ec', cert: pem(ecDevice), key: await pkcs8(ecDeviceKeys) },
    negative: {
      expiredEndpoint: { chain: pem(expired, intermediate.cert), key: serverKey },
      otherNameEndpoint: { name: otherName, chain: pem(otherNameLeaf, intermediate.cert), key: serverKey },
      otherRootCa: pem(otherRoot.cert),
      otherCaDevice: { cert: pem(otherCaDevice), key: rsaDeviceKey },
    },
    chains: {
      selfSignedLeaf: { chain: pem(selfSigned, intermediate.cert), key: attackerKey },
      forgedLeafBeforeRealLeaf: { chain: pem(forgedLeaf, leaf, intermediate.cert), key: attackerKey },
      signedByDevice: { chain: pem(underDevice, rsaDevice), key: attackerKey },
      notYetValid: { chain: pem(notYetValid, intermediate.cert), key: serverKey },
      untrustedRoot: { chain: pem(otherRootLeaf, otherIntermediate.cert), key: serverKey },
      clientAuthOnly: { chain: pem(clientAuthOnly, intermediate.cert), key: serverKey },
      sha1Signed: { chain: pem(sha1Signed, intermediate.cert), key: serverKey },
    },
    files: [],
  };
}

/** One way an endpoint can be wrong, and how the device must refuse it. */
export interface NegativeCase {
  name: string;
  expect: { category: LinkErrorCategory; reason?: CertFailure };
  endpoint(pki: FixturePki): Partial<LocalEndpointOptions>;
  /** A man in the middle replaces the ALPN protocol the server selected with this one (same length). */
  rewriteSelectedAlpn?: string;
}

/** Same length as x-amzn-mqtt-ca, so the rewritten ServerHello keeps its framing. */
export const UNOFFERED_ALPN = 'x-other-proto1';

const CASES: NegativeCase[] = [
  {
    name: 'forged self-signed leaf followed by the real intermediate',
    expect: { category: 'tls-cert', reason: 'untrusted' },
    endpoint: (p) => ({ serverCredentials: p.chains.selfSignedLeaf }),
  },
  {
    name: 'forged leaf, then the real leaf and the real intermediate',
    expect: { category: 'tls-cert', reason: 'untrusted' },
    endpoint: (p) => ({ serverCredentials: p.chains.forgedLeafBeforeRealLeaf }),
  },
  {
    name: 'leaf signed by a certificate that is not a CA (a device certificate)',
    expect: { category: 'tls-cert', reason: 'untrusted' },
    endpoint: (p) => ({ serverCredentials: p.chains.signedByDevice }),
  },
  {
    name: 'expired leaf',
    expect: { category: 'tls-cert', reason: 'time' },
    endpoint: (p) => ({ serverCredentials: p.negative.expiredEndpoint }),
  },
  {
    name: 'leaf not yet valid',
    expect: { category: 'tls-cert', reason: 'time' },
    endpoint: (p) => ({ serverCredentials: p.chains.notYetValid }),
  },
  {
    name: 'leaf for another name',
    expect: { category: 'tls-cert', reason: 'name' },
    endpoint: (p) => ({ serverCredentials: p.negative.otherNameEndpoint }),
  },
  {
    name: 'chain to an untrusted root',
    expect: { category: 'tls-cert', reason: 'untrusted' },
    endpoint: (p) => ({ serverCredentials: p.chains.untrustedRoot }),
  },
  {
    name: 'leaf whose extended key usage is clientAuth only',
    expect: { category: 'tls-cert', reason: 'usage' },
    endpoint: (p) => ({ serverCredentials: p.chains.clientAuthOnly }),
  },
  {
    name: 'leaf signed with SHA-1',
    expect: { category: 'tls-cert', reason: 'untrusted' },
    // OpenSSL's default security level would not even load it into the server.
    endpoint: (p) => ({ serverCredentials: p.chains.sha1Signed, ciphers: 'DEFAULT@SECLEVEL=0' }),
  },
  {
    name: 'server selecting no ALPN',
    expect: { category: 'alpn' },
    endpoint: () => ({ serverAlpn: false }),
  },
  {
    name: 'server selecting an ALPN protocol that was not offered',
    expect: { category: 'alpn' },
    endpoint: () => ({}),
    rewriteSelectedAlpn: UNOFFERED_ALPN,
  },
  {
    name: 'server offering only TLS 1.0 and 1.1',
    expect: { category: 'tls-handshake' },
    endpoint: () => ({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
  },
  {
    name: 'client certificate refused (issued by a CA the server does not trust)',
    expect: { category: 'tls-alert' },
    endpoint: (p) => ({ clientCa: p.negative.otherRootCa }),
  },
];

export const NEGATIVE_CASES: readonly NegativeCase[] = Object.freeze(CASES);

/** A running impostor: where the device connects, and what reached the broker. */
export interface Impostor {
  host: string;
  port: number;
  endpoint: LocalEndpoint;
  /** MQTT bytes the broker side read and CONNECTs it accepted. */
  mqttBytes(): number;
  connects(): number;
  close(): Promise<void>;
}

export async function startImpostor(pki: FixturePki, testCase: Pick<NegativeCase, 'endpoint' | 'rewriteSelectedAlpn'>): Promise<Impostor> {
  const endpoint = await createLocalEndpoint({ pki, sweepIntervalMs: 0, ...testCase.endpoint(pki) });
  const proxy = testCase.rewriteSelectedAlpn ? await alpnRewritingProxy(endpoint, testCase.rewriteSelectedAlpn) : undefined;
  return {
    host: endpoint.host,
    port: proxy ? proxy.port : endpoint.port,
    endpoint,
    mqttBytes: () => endpoint.stats.bytesIn,
    connects: () => endpoint.stats.connects,
    async close() {
      await proxy?.close();
      await endpoint.close();
    },
  };
}

/** A TCP relay in front of `endpoint`; each connection's server-to-client bytes pass through a `forward()` of its own. */
export interface Relay {
  port: number;
  close(): Promise<void>;
}

type Forward = (chunk: Buffer, send: (bytes: Buffer) => void) => void;

async function relay(endpoint: { host: string; port: number }, forward: () => Forward): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(endpoint.port, endpoint.host);
    sockets.add(client);
    sockets.add(upstream);
    const toClient = forward();
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => toClient(chunk, (bytes) => client.write(bytes)));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('close', end);
      socket.on('error', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A relay that replaces the selected protocol in the server's TLS 1.2
 * ServerHello (plaintext, RFC 7301 3.1) with `replacement`: to the device it
 * looks like a server that selected a protocol the device never offered.
 */
async function alpnRewritingProxy(endpoint: LocalEndpoint, replacement: string): Promise<Relay> {
  const from = Buffer.concat([Buffer.from([AWS_MQTT_ALPN.length]), Buffer.from(AWS_MQTT_ALPN, 'latin1')]);
  const to = Buffer.concat([Buffer.from([replacement.length]), Buffer.from(replacement, 'latin1')]);
  if (from.length !== to.length) throw new Error(`rewriteSelectedAlpn must have ${AWS_MQTT_ALPN.length} characters`);
  return relay(endpoint, () => {
    let seen = 0;
    return (chunk, send) => {
      if (seen < 4096) {
        const at = chunk.indexOf(from);
        if (at >= 0) to.copy(chunk, at);
      }
      seen += chunk.length;
      send(chunk);
    };
  });
}

/**
 * A relay that holds what the server sends and delivers it as one write after
 * `windowMs` of quiet: records the server sent apart (a TLS 1.3 NewSessionTicket
 * and the CONNACK behind it) reach the device in one TCP segment.
 */
export function coalescingRelay(endpoint: { host: string; port: number }, windowMs = 100): Promise<Relay> {
  return relay(endpoint, () => {
    let held: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    return (chunk, send) => {
      held.push(chunk);
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        const bytes = Buffer.concat(held);
        held = [];
        send(bytes);
      }, windowMs);
    };
  });
}
