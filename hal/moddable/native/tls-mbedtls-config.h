/*
 * Mbed TLS 4 options for the Linux (mcsim) build of hal/moddable/native/tls,
 * passed to Mbed TLS's CMake as TF_PSA_CRYPTO_USER_CONFIG_FILE (README,
 * "Mbed TLS for the Moddable simulator") and included by tls-engine.c, so
 * library and binding see the same configuration. TF-PSA-Crypto's build_info.h
 * includes it before Mbed TLS's own configuration, which picks the TLS options
 * up (docs/4.0-migration-guide.md, "Configuration file split").
 *
 * It mirrors what manifests/esp32/sdkconfig/sdkconfig.tls asks of ESP-IDF's
 * Mbed TLS, so the simulator's per-connection heap is the device's:
 * - MBEDTLS_PLATFORM_MEMORY: allocations go through mbedtls_calloc/free, which
 *   tls-engine.c counts (ESP-IDF always builds with it: port/include/mbedtls/esp_config.h).
 * - MBEDTLS_PSA_ASSUME_EXCLUSIVE_BUFFERS: PSA functions work in the caller's
 *   buffers instead of copying them first (ESP-IDF defines it in esp_config.h;
 *   without it every AEAD record operation allocated a record-sized copy).
 * - 16 KB incoming records (a peer may send a full 2^14-byte record, RFC 5246
 *   6.2.1, RFC 8446 5.1; AWS IoT negotiates no max_fragment_length), 4 KB
 *   outgoing (the largest thing the firmware writes is a 4 KB telemetry batch;
 *   longer writes are split into several records).
 * Changing these options changes no structure layout, so a library built
 * without this file still links, but heap figures then are the library's.
 */
#ifndef FIELDLINK_TLS_MBEDTLS_CONFIG_H
#define FIELDLINK_TLS_MBEDTLS_CONFIG_H

#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PSA_ASSUME_EXCLUSIVE_BUFFERS

#define MBEDTLS_SSL_IN_CONTENT_LEN 16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

#endif
