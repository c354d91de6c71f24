import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {
  DEFAULT_ENDPOINT_NAME,
  generateDevPki,
  issuedBy,
  pemToDer,
  readDevPki,
  splitPemCertificates,
  wildcardFor,
  type Pki,
} from '../../../tools/provision/pki';

let dir: string;
let pki: Pki;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fieldlink-devpki-'));
  pki = await generateDevPki({ out: dir, devices: 2 });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;

test('the endpoint wildcard is built the way AWS names its SAN', () => {
  assert.equal(wildcardFor('local-ats.iot.sim-local-1.amazonaws.com'), '*.iot.sim-local-1.amazonaws.com');
  assert.equal(pki.endpointName, DEFAULT_ENDPOINT_NAME);
  const leaf = new X509Certificate(pki.endpoint.cert);
  assert.equal(leaf.subjectAltName, 'DNS:*.iot.sim-local-1.amazonaws.com');
  assert.equal(leaf.checkHost(DEFAULT_ENDPOINT_NAME), '*.iot.sim-local-1.amazonaws.com');
  assert.equal(leaf.checkHost('iot.sim-local-1.amazonaws.com'), undefined);
});

test('endpoint-chain.pem is leaf + intermediate and chains to the root (X509ChainBuilder)', async () => {
  const [leafPem, intermediatePem, ...rest] = splitPemCertificates(pki.endpoint.chain);
  assert.equal(rest.length, 0);
  assert.ok(issuedBy(leafPem, intermediatePem));
  assert.ok(issuedBy(intermediatePem, pki.rootCa));
  const builder = new x509.X509ChainBuilder({
    certificates: [new x509.X509Certificate(intermediatePem), new x509.X509Certificate(pki.rootCa)],
  });
  const chain = await builder.build(new x509.X509Certificate(leafPem));
  assert.deepEqual(
    [...chain].map((c) => c.subject),
    [`CN=${DEFAULT_ENDPOINT_NAME}`, 'CN=Fieldlink Test Intermediate CA, O=Fieldlink Test', 'CN=Fieldlink Test Root CA, O=Fieldlink Test'],
  );
  assert.ok(new X509Certificate(pki.intermediateCa).ca);
});

test('device certificates are RSA-2048, signed by the root, for client auth, valid about 30 days', () => {
  assert.equal(pki.devices.length, 2);
  for (const device of pki.devices) {
    const cert = new X509Certificate(device.cert);
    assert.ok(issuedBy(device.cert, pki.rootCa));
    assert.equal(cert.subject, `CN=${device.thing}`);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    const days = (Date.parse(cert.validTo) - Date.now()) / DAY;
    assert.ok(days > 29 && days <= 30, `valid for ${days} days`);
    assert.ok(cert.checkPrivateKey(createPrivateKey(device.key)));
  }
});

test('negative material is what it claims to be', () => {
  const expired = new X509Certificate(splitPemCertificates(pki.negative.expiredEndpoint.chain)[0]);
  assert.ok(Date.parse(expired.validTo) < Date.now());
  assert.ok(issuedBy(expired.toString(), pki.intermediateCa));

  const otherName = new X509Certificate(splitPemCertificates(pki.negative.otherNameEndpoint.chain)[0]);
  assert.equal(otherName.checkHost(DEFAULT_ENDPOINT_NAME), undefined);
  assert.ok(issuedBy(otherName.toString(), pki.intermediateCa));

  assert.ok(issuedBy(pki.negative.otherCaDevice.cert, pki.negative.otherRootCa));
  assert.equal(issuedBy(pki.negative.otherCaDevice.cert, pki.rootCa), false);
  assert.equal(issuedBy(pki.endpoint.cert, pki.negative.otherRootCa), false);
});

test('files: PEM and DER sets, keys 0600, DER key is PKCS#8 as Moddable clientKey reads it', async () => {
  for (const name of ['root-ca.pem', 'intermediate-ca.pem', 'endpoint-chain.pem', 'endpoint.key', 'device.pem', 'device.key', 'ca.der', 'device.der', 'device.key.der', 'device-2.pem']) {
    assert.ok(pki.files.includes(join(dir, name)), name);
  }
  for (const key of ['endpoint.key', 'device.key', 'device.key.der', 'device-2.key', 'device-2.key.der']) {
    assert.equal((await stat(join(dir, key))).mode & 0o777, 0o600, key);
  }
  assert.equal((await stat(join(dir, 'device.pem'))).mode & 0o077, 0o044);

  assert.deepEqual(new Uint8Array(await readFile(join(dir, 'ca.der'))), pemToDer(pki.rootCa));
  const deviceDer = new X509Certificate(await readFile(join(dir, 'device.der')));
  assert.equal(deviceDer.fingerprint256, new X509Certificate(pki.devices[0].cert).fingerprint256);
  const keyDer = await readFile(join(dir, 'device.key.der'));
  const key = createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' });
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.ok(createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(deviceDer.publicKey.export({ type: 'spki', format: 'der' })));
});

test('readDevPki reads back what was written', async () => {
  const back = await readDevPki(dir);
  assert.equal(back.endpointName, pki.endpointName);
  assert.equal(back.rootCa, pki.rootCa);
  assert.equal(back.endpoint.chain, pki.endpoint.chain);
  assert.deepEqual(
    back.devices.map((d) => d.thing),
    ['sim-thing-1', 'sim-thing-2'],
  );
  assert.equal(back.negative.otherNameEndpoint.name, pki.negative.otherNameEndpoint.name);
});

test('a past issue time makes certificates that have already expired', async () => {
  const old = await generateDevPki({ now: new Date(Date.now() - 60 * DAY), endpointName: 'old-ats.iot.sim-local-1.amazonaws.com' });
  assert.ok(Date.parse(new X509Certificate(old.devices[0].cert).validTo) < Date.now());
  assert.equal(new X509Certificate(old.endpoint.cert).subjectAltName, 'DNS:*.iot.sim-local-1.amazonaws.com');
});

test('keyType ec makes ECDSA P-256 device keys, signature-only usage, still signed by the RSA root', async () => {
  const ec = await generateDevPki({ keyType: 'ec' });
  const cert = new X509Certificate(ec.devices[0].cert);
  assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(cert.checkPrivateKey(createPrivateKey(ec.devices[0].key)));
  assert.ok(issuedBy(ec.devices[0].cert, ec.rootCa));
  const usage = new x509.X509Certificate(ec.devices[0].cert).getExtension(x509.KeyUsagesExtension);
  assert.equal(usage?.usages, x509.KeyUsageFlags.digitalSignature);
  assert.equal(new X509Certificate(ec.endpoint.cert).publicKey.asymmetricKeyType, 'rsa');
});
