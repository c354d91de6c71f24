/*
 * A TLS client engine over memory buffers: Mbed TLS 4 with its BIO callbacks
 * on two byte queues, no socket code. The caller (tls.c, for the TypeScript
 * HAL in hal/moddable/secure-stream.ts) moves ciphertext between the queues and
 * Moddable's TCP socket, so the same C runs on ESP32 (ESP-IDF's Mbed TLS) and
 * on Linux (Mbed TLS built beside the project, for mcsim).
 *
 * Contract:
 * - Nothing blocks: every call returns once it needs bytes that have not been
 *   fed yet (FL_TLS_AGAIN).
 * - Verification is always on (MBEDTLS_SSL_VERIFY_REQUIRED) with the profile
 *   in tls-engine.c; SNI is always the configured server name; when ALPN is
 *   offered the server must select one of the offered protocols.
 * - After FL_TLS_FAILED the engine only answers flTlsEngineFailure(); its
 *   queued output is whatever alert Mbed TLS wrote, which the caller may send.
 * - Allocations go through mbedtls_calloc/mbedtls_free.
 */

#ifndef FIELDLINK_TLS_ENGINE_H
#define FIELDLINK_TLS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct flTlsEngineRecord flTlsEngineRecord;
typedef flTlsEngineRecord *flTlsEngine;

/* Longest ALPN protocol name kept (RFC 7301 allows 255; AWS's is 14). */
#define FL_TLS_ALPN_MAX (32)
/* At most this many ALPN protocols are offered. */
#define FL_TLS_ALPN_COUNT (4)

typedef struct {
	/* Trusted roots: DER certificates back to back, or PEM. */
	const uint8_t *ca;
	size_t caLength;
	/* Device certificate, optionally followed by its chain: DER back to back, or PEM. */
	const uint8_t *certificate;
	size_t certificateLength;
	/* Device private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), DER or PEM. RSA >= 2048 or EC P-256/P-384. */
	const uint8_t *key;
	size_t keyLength;
	/* SNI and the name the server certificate must carry (subjectAltName dNSName). */
	const char *serverName;
	/* Comma-separated protocols to offer, or "" for none. */
	const char *alpn;
	/* 0x0303 (TLS 1.2) or 0x0304 (TLS 1.3, if compiled in). TLS 1.2 is always the minimum. */
	int maxVersion;
	/* A session serialized by flTlsEngineSaveSession to offer (ticket or id), or NULL. */
	const uint8_t *session;
	size_t sessionLength;
} flTlsOptions;

typedef enum {
	FL_TLS_DONE = 0,		/* handshake complete and checked */
	FL_TLS_AGAIN = 1,		/* needs more input (or output drained) */
	FL_TLS_FAILED = 2		/* see flTlsEngineFailure */
} flTlsStatus;

typedef enum {
	FL_TLS_FAIL_NONE = 0,
	FL_TLS_FAIL_CREDENTIALS,	/* our own CA, certificate or key is unusable (detail in code) */
	FL_TLS_FAIL_CERTIFICATE,	/* we rejected the server's chain: verifyFlags */
	FL_TLS_FAIL_ALERT,			/* the server sent a fatal alert: alert (-1 when it was encrypted) */
	FL_TLS_FAIL_ALPN,			/* ALPN offered, server selected none (alpn "") or another (alpn) */
	FL_TLS_FAIL_VERSION,		/* the server chose a version below TLS 1.2 */
	FL_TLS_FAIL_HANDSHAKE,		/* any other handshake failure: code */
	FL_TLS_FAIL_CLOSED,			/* the server sent close_notify */
	FL_TLS_FAIL_RECORD,			/* a bad record after the handshake: code */
	FL_TLS_FAIL_MEMORY,			/* an allocation failed */
	FL_TLS_FAIL_NEGOTIATION		/* the server answered our ClientHello with handshake_failure, protocol_version
								   or insufficient_security (alert): no common version or cipher suite */
} flTlsFailureKind;

typedef struct {
	flTlsFailureKind kind;
	int code;					/* Mbed TLS / PSA error code, 0 if none */
	uint32_t verifyFlags;		/* MBEDTLS_X509_BADCERT_* for FL_TLS_FAIL_CERTIFICATE */
	int alert;					/* TLS AlertDescription received, -1 if none was readable */
	char alpn[FL_TLS_ALPN_MAX + 1];	/* the protocol the server selected, for FL_TLS_FAIL_ALPN */
	const char *what;			/* static text naming the failing step, for FL_TLS_FAIL_CREDENTIALS */
} flTlsFailure;

typedef struct {
	int version;				/* 0x0303 or 0x0304 */
	int resumed;				/* abbreviated handshake: the server sent no certificate */
	int offeredSession;			/* a session (ticket or id) was offered */
	const char *alpn;			/* selected protocol or NULL */
	const char *ciphersuite;
	const char *keyType;		/* the device key: "rsa-2048", "ec-p256", ... */
} flTlsInfo;

/* Initializes PSA crypto (psa_crypto_init) once; 0 or a PSA error. */
int flTlsGlobalInit(void);

/* Fills *engine, or returns FL_TLS_FAILED with *failure describing why (credentials, memory). */
flTlsStatus flTlsEngineNew(flTlsEngine *engine, const flTlsOptions *options, flTlsFailure *failure);
void flTlsEngineFree(flTlsEngine engine);

/* Ciphertext received from the server. Returns 0, or -1 if out of memory. */
int flTlsEngineFeed(flTlsEngine engine, const uint8_t *bytes, size_t length);

/* Run the handshake as far as the fed bytes allow. */
flTlsStatus flTlsEngineHandshake(flTlsEngine engine);

/* Ciphertext waiting to go to the server. */
size_t flTlsEngineOutputLength(flTlsEngine engine);
/* Moves up to `max` bytes of ciphertext into `bytes`; returns the count. */
size_t flTlsEngineTakeOutput(flTlsEngine engine, uint8_t *bytes, size_t max);

/*
 * Encrypts plaintext into the output queue after the handshake. Returns the
 * bytes consumed (fewer than `length` once the output queue holds more than
 * FL_TLS_OUTPUT_HIGH bytes: drain it and call again), or -1 after a failure.
 */
int flTlsEngineWrite(flTlsEngine engine, const uint8_t *bytes, size_t length);
#define FL_TLS_OUTPUT_HIGH (8192)

/*
 * Decrypted application data into `bytes`: > 0 bytes, 0 when nothing is
 * complete yet, -1 after a failure (including close_notify from the server).
 */
int flTlsEngineRead(flTlsEngine engine, uint8_t *bytes, size_t max);

/* Queues a close_notify alert. */
void flTlsEngineCloseNotify(flTlsEngine engine);

const flTlsFailure *flTlsEngineFailure(flTlsEngine engine);
void flTlsEngineInfo(flTlsEngine engine, flTlsInfo *info);

/*
 * A session to keep became available (after a full or resumed TLS 1.2
 * handshake, or a TLS 1.3 NewSessionTicket). Cleared by flTlsEngineSaveSession.
 */
int flTlsEngineHasNewSession(flTlsEngine engine);
/*
 * Serializes the session (mbedtls_ssl_session_save) into `bytes`. Returns 0,
 * or PSA_ERROR_BUFFER_TOO_SMALL with *length set to the size needed, or
 * another error.
 */
int flTlsEngineSaveSession(flTlsEngine engine, uint8_t *bytes, size_t capacity, size_t *length);

/* Bytes Mbed TLS and the engines hold now, and the most held since the last reset (0, 0 when not counted). */
void flTlsHeap(size_t *current, size_t *peak);
void flTlsHeapResetPeak(void);
/* 1 when flTlsHeap counts (Linux builds with MBEDTLS_PLATFORM_MEMORY). */
int flTlsHeapCounted(void);

/* 1 when TLS 1.3 is compiled into Mbed TLS. */
int flTlsSupportsTls13(void);

#endif
