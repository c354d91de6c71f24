/** PEM/DER helpers and file writing on Node's own crypto (no ASN.1 library needed). */
import { X509Certificate } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';

/** Writes a file; secrets get mode 0600 even when the file already existed. */
export async function writeSecureAware(path: string, data: string | Uint8Array, kind: 'public' | 'secret'): Promise<void> {
  const mode = kind === 'secret' ? 0o600 : 0o644;
  await writeFile(path, data, { mode });
  await chmod(path, mode);
}

/** The DER bytes of the first PEM block in `pem`. */
export function pemToDer(pem: string): Uint8Array {
  const match = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!match) throw new Error('no PEM block found');
  return new Uint8Array(Buffer.from(match[2].replace(/\s+/g, ''), 'base64'));
}

/** Every certificate in a PEM bundle, in order. */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((b) => `${b}\n`) ?? [];
}

/** True when `cert` (PEM) was signed by `issuer` (PEM) and names it as issuer. */
export function issuedBy(cert: string, issuer: string): boolean {
  const c = new X509Certificate(cert);
  const i = new X509Certificate(issuer);
  return c.checkIssued(i) && c.verify(i.publicKey);
}

