/**
 * A directory shaped like an Mbed TLS 4 source tree and its build, as
 * tools/moddable/mbedtls.ts looks for them, for tests of the build tool that
 * plan a Linux simulator build without a real Mbed TLS. The crypto archive
 * names mbedtls_platform_set_calloc_free (built with tls-mbedtls-config.h)
 * unless `stock`.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function fakeMbedtls(stock = false): string {
  const dir = mkdtempSync(join(tmpdir(), 'fieldlink-fake-mbedtls-'));
  mkdirSync(join(dir, 'include', 'mbedtls'), { recursive: true });
  mkdirSync(join(dir, 'tf-psa-crypto', 'include', 'psa'), { recursive: true });
  mkdirSync(join(dir, 'build', 'library'), { recursive: true });
  writeFileSync(join(dir, 'include', 'mbedtls', 'ssl.h'), '');
  writeFileSync(join(dir, 'tf-psa-crypto', 'include', 'psa', 'crypto.h'), '');
  for (const name of ['libmbedtls.a', 'libmbedx509.a']) writeFileSync(join(dir, 'build', 'library', name), '!<arch>\n');
  writeFileSync(join(dir, 'build', 'library', 'libtfpsacrypto.a'), stock ? '!<arch>\npsa_crypto_init\n' : '!<arch>\nmbedtls_platform_set_calloc_free\n');
  return dir;
}
