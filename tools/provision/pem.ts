/** PEM/DER helpers and file writing on Node's own crypto (no ASN.1 library needed). */
import { X509Certificate } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let sequence = 0;

/**
 * Writes a file so that no one sees it half written and nothing else is touched:
 * the bytes go to a new file beside `path` (created exclusively, `O_NOFOLLOW`,
 * mode 0600 for secrets from the first byte, 0644 otherwise), which is then
 * renamed over `path`. A symlink planted at `path` is replaced, never followed;
 * one planted at the temporary name makes the create fail.
 */
export async function writeSecureAware(path: string, data: string | Uint8Array, kind: 'public' | 'secret'): Promise<void> {
  const mode = kind === 'secret' ? 0o600 : 0o644;
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${sequence++}.tmp`);
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await handle.chmod(mode); // the umask may have narrowed a public file; never widens a secret
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temp, path);
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
