/**
 * The Mbed TLS 4 build that Linux (mcsim) builds of hal/moddable/native/tls
 * link (README, "Mbed TLS for the Moddable simulator"):
 * `$FIELDLINK_MBEDTLS` is the source tree (headers), `$FIELDLINK_MBEDTLS_BUILD`
 * its CMake build directory (default `$FIELDLINK_MBEDTLS/build`), made with
 * hal/moddable/native/tls-mbedtls-config.h. ESP32 builds use ESP-IDF's Mbed
 * TLS instead and need none of this.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const MBEDTLS_GUIDE = 'README, "Mbed TLS for the Moddable simulator"';
export const MBEDTLS_LIBRARIES = ['libmbedtls.a', 'libmbedx509.a', 'libtfpsacrypto.a'] as const;

export interface MbedtlsBuild {
  /** Source tree: include/, tf-psa-crypto/include/, tf-psa-crypto/drivers/builtin/include/. */
  source: string;
  /** Directory of the three static libraries. */
  libraries: string;
}

/** The Mbed TLS build the environment names, or one line saying what is missing and what to do. */
/** What is wrong and what to do, as tools/moddable/build.ts prints it (`<what> — <todo>`). */
export interface MbedtlsProblem {
  what: string;
  todo: string;
}

export function findMbedtls(env: NodeJS.ProcessEnv = process.env): MbedtlsBuild | MbedtlsProblem {
  const source = env.FIELDLINK_MBEDTLS;
  if (!source) return { what: `$FIELDLINK_MBEDTLS is not set (Mbed TLS 4, built beside the project for the simulator)`, todo: `build it and export FIELDLINK_MBEDTLS=<its source tree>; see ${MBEDTLS_GUIDE}` };
  if (!existsSync(join(source, 'include', 'mbedtls', 'ssl.h')) || !existsSync(join(source, 'tf-psa-crypto', 'include', 'psa', 'crypto.h'))) {
    return { what: `$FIELDLINK_MBEDTLS=${source} is not an Mbed TLS 4 source tree (no include/mbedtls/ssl.h and tf-psa-crypto/include/psa/crypto.h)`, todo: `see ${MBEDTLS_GUIDE}` };
  }
  const build = env.FIELDLINK_MBEDTLS_BUILD ?? join(source, 'build');
  const libraries = join(build, 'library');
  for (const name of MBEDTLS_LIBRARIES) {
    if (!existsSync(join(libraries, name))) {
      return { what: `no ${join(libraries, name)}`, todo: `build Mbed TLS (cmake, then make), or set FIELDLINK_MBEDTLS_BUILD to its build directory; see ${MBEDTLS_GUIDE}` };
    }
  }
  // The symbol exists only with MBEDTLS_PLATFORM_MEMORY (tls-mbedtls-config.h): without it mc.so would not load.
  if (!readFileSync(join(libraries, 'libtfpsacrypto.a')).includes('mbedtls_platform_set_calloc_free')) {
    return { what: `${join(libraries, 'libtfpsacrypto.a')} was built without hal/moddable/native/tls-mbedtls-config.h (no MBEDTLS_PLATFORM_MEMORY)`, todo: `rebuild with -DTF_PSA_CRYPTO_USER_CONFIG_FILE=<that file>; see ${MBEDTLS_GUIDE}` };
  }
  return { source, libraries };
}
