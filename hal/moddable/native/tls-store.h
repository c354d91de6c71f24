/*
 * The platform's retained TLS session: one serialized Mbed TLS session
 * (mbedtls_ssl_session_save) kept where a deep sleep does not erase it, apart
 * from the firmware's own Retained bytes (hal/moddable/native/power).
 *
 * - ESP32: RTC_NOINIT_ATTR memory, which keeps its content through deep sleep
 *   and every reset but a power loss; a power-on or brownout reset clears it.
 * - elsewhere (the Moddable simulator): a static buffer, which plays the RTC
 *   memory because mcsim's process outlives an emulated deep sleep; quitting
 *   mcsim is the power loss.
 *
 * A record is used only when its magic, length and CRC-32 hold, its tag
 * (SHA-256 of server name, port, trusted CA and device certificate) matches
 * the connection, and the wall clock is before its expiry.
 */

#ifndef FIELDLINK_TLS_STORE_H
#define FIELDLINK_TLS_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Largest serialized session kept (session with the server's certificate and a ticket). */
#define FL_TLS_STORE_CAPACITY (3072)
#define FL_TLS_STORE_TAG_LENGTH (32)

/* Keeps `length` bytes until `expires` (seconds since the Unix epoch). */
void flTlsStoreSave(const uint8_t tag[FL_TLS_STORE_TAG_LENGTH], const uint8_t *bytes, size_t length, uint32_t expires);

/* The kept session for `tag` if it is intact and `now` is before its expiry, else NULL. */
const uint8_t *flTlsStoreLoad(const uint8_t tag[FL_TLS_STORE_TAG_LENGTH], uint32_t now, size_t *length);

/* Forgets the kept session (a server refused it, or a test empties the retained memory). */
void flTlsStoreClear(void);

/* Bytes held now (0 when empty or invalid). */
size_t flTlsStoreLength(void);

#endif
