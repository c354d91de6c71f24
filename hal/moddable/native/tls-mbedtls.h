/*
 * Selects the Mbed TLS 4 configuration the library was built with; include it
 * before any Mbed TLS or PSA header (struct layouts depend on it).
 * - ESP32: ESP-IDF 6.0's, as its mbedtls component gives its own users
 *   (components/mbedtls/CMakeLists.txt: MBEDTLS_CONFIG_FILE and
 *   TF_PSA_CRYPTO_USER_CONFIG_FILE are "mbedtls/esp_config.h").
 * - elsewhere: tls-mbedtls-config.h, which the Linux build of Mbed TLS for
 *   mcsim is made with (README, "Mbed TLS for the Moddable simulator").
 */

#ifndef FIELDLINK_TLS_MBEDTLS_H
#define FIELDLINK_TLS_MBEDTLS_H

#if defined(ESP_PLATFORM)
	#if !defined(MBEDTLS_CONFIG_FILE)
		#define MBEDTLS_CONFIG_FILE "mbedtls/esp_config.h"
	#endif
	#if !defined(TF_PSA_CRYPTO_USER_CONFIG_FILE)
		#define TF_PSA_CRYPTO_USER_CONFIG_FILE "mbedtls/esp_config.h"
	#endif
#elif !defined(TF_PSA_CRYPTO_USER_CONFIG_FILE)
	#define TF_PSA_CRYPTO_USER_CONFIG_FILE "tls-mbedtls-config.h"
#endif

#include "mbedtls/build_info.h"

#endif
