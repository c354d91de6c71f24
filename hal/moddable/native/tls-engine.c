/*
 * TLS client engine over memory buffers on Mbed TLS 4.x (see tls-engine.h).
 *
 * Mbed TLS 4 runs on PSA crypto: psa_crypto_init() once, no entropy or DRBG
 * context of our own (docs/4.0-migration-guide.md, "PSA as the only
 * cryptography API"). ESP-IDF 6.0 builds it from its sdkconfig
 * (mbedtls/esp_config.h); a Linux build for mcsim uses tls-mbedtls-config.h.
 */

#include "tls-mbedtls.h"
#include "tls-engine.h"

#include <string.h>

#include "mbedtls/platform.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"
#include "mbedtls/pk.h"
#include "psa/crypto.h"

#if !defined(MBEDTLS_SSL_CLI_C) || !defined(MBEDTLS_SSL_PROTO_TLS1_2) || !defined(MBEDTLS_X509_CRT_PARSE_C)
	#error "hal/moddable/native/tls needs an Mbed TLS with the TLS 1.2 client and X.509"
#endif
#if !defined(MBEDTLS_HAVE_TIME_DATE)
	#error "certificate dates must be checked: enable MBEDTLS_HAVE_TIME_DATE (ESP-IDF: CONFIG_MBEDTLS_HAVE_TIME_DATE, manifests/esp32/sdkconfig/sdkconfig.tls)"
#endif
#if !defined(MBEDTLS_SSL_SERVER_NAME_INDICATION) || !defined(MBEDTLS_SSL_ALPN)
	#error "SNI and ALPN are required (AWS IoT on port 443): enable MBEDTLS_SSL_SERVER_NAME_INDICATION and MBEDTLS_SSL_ALPN"
#endif

/* ---- allocation accounting ------------------------------------------------ */

/*
 * Where the allocator can be replaced safely, every block Mbed TLS and the
 * engines allocate is counted. Not on ESP32: Wi-Fi's WPA supplicant allocates
 * through Mbed TLS before this module runs, and a block freed through a
 * different allocator than the one that made it corrupts the heap.
 */
#if defined(MBEDTLS_PLATFORM_MEMORY) && !defined(MBEDTLS_PLATFORM_CALLOC_MACRO) && \
	!defined(MBEDTLS_PLATFORM_FREE_MACRO) && !defined(ESP_PLATFORM)
	#define FL_TLS_COUNT_HEAP 1
	#include <stdlib.h>

	/* Each counted block starts with its size, padded to the strictest alignment. */
	typedef union {
		size_t size;
		long double alignLongDouble;
		void *alignPointer;
		long long alignLongLong;
	} flTlsBlockHeader;

	static size_t gHeapCurrent = 0;
	static size_t gHeapPeak = 0;

	static void *countedCalloc(size_t count, size_t size)
	{
		if (size && (count > (((size_t)-1) - sizeof(flTlsBlockHeader)) / size))
			return NULL;
		size_t bytes = count * size;
		flTlsBlockHeader *block = calloc(1, sizeof(flTlsBlockHeader) + bytes);
		if (!block)
			return NULL;
		block->size = bytes;
		gHeapCurrent += bytes;
		if (gHeapCurrent > gHeapPeak)
			gHeapPeak = gHeapCurrent;
		return block + 1;
	}

	static void countedFree(void *pointer)
	{
		if (!pointer)
			return;
		flTlsBlockHeader *block = ((flTlsBlockHeader *)pointer) - 1;
		gHeapCurrent -= block->size;
		free(block);
	}
#endif

void flTlsHeap(size_t *current, size_t *peak)
{
#if defined(FL_TLS_COUNT_HEAP)
	*current = gHeapCurrent;
	*peak = gHeapPeak;
#else
	*current = 0;
	*peak = 0;
#endif
}

void flTlsHeapResetPeak(void)
{
#if defined(FL_TLS_COUNT_HEAP)
	gHeapPeak = gHeapCurrent;
#endif
}

int flTlsHeapCounted(void)
{
#if defined(FL_TLS_COUNT_HEAP)
	return 1;
#else
	return 0;
#endif
}

int flTlsSupportsTls13(void)
{
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
	return 1;
#else
	return 0;
#endif
}

int flTlsGlobalInit(void)
{
	static int initialized = 0;
	if (initialized)
		return 0;
#if defined(FL_TLS_COUNT_HEAP)
	mbedtls_platform_set_calloc_free(countedCalloc, countedFree);
#endif
	psa_status_t status = psa_crypto_init();
	if (PSA_SUCCESS != status)
		return status;
	initialized = 1;
	return 0;
}

/* ---- byte queue ------------------------------------------------------------ */

typedef struct {
	uint8_t *bytes;
	size_t start;
	size_t end;
	size_t capacity;
} flTlsQueue;

static size_t queueLength(const flTlsQueue *queue)
{
	return queue->end - queue->start;
}

static int queuePush(flTlsQueue *queue, const uint8_t *bytes, size_t length)
{
	if (!length)
		return 0;
	if (queue->start && (queue->capacity - queue->end < length)) {
		memmove(queue->bytes, queue->bytes + queue->start, queueLength(queue));
		queue->end -= queue->start;
		queue->start = 0;
	}
	if (queue->capacity - queue->end < length) {
		size_t capacity = queue->capacity ? queue->capacity : 2048;
		while (capacity - queue->end < length) {
			if (capacity > ((size_t)-1) / 2)
				return -1;
			capacity *= 2;
		}
		uint8_t *grown = mbedtls_calloc(1, capacity);
		if (!grown)
			return -1;
		if (queue->bytes) {
			memcpy(grown, queue->bytes, queue->end);
			mbedtls_free(queue->bytes);
		}
		queue->bytes = grown;
		queue->capacity = capacity;
	}
	memcpy(queue->bytes + queue->end, bytes, length);
	queue->end += length;
	return 0;
}

static void queueFree(flTlsQueue *queue)
{
	if (queue->bytes) {
		mbedtls_platform_zeroize(queue->bytes, queue->capacity);
		mbedtls_free(queue->bytes);
	}
	memset(queue, 0, sizeof(*queue));
}

/* Takes up to `max` bytes; a queue taken empty gives its buffer back, so an idle connection holds none. */
static size_t queueTake(flTlsQueue *queue, uint8_t *bytes, size_t max)
{
	size_t count = queueLength(queue);
	if (count > max)
		count = max;
	if (count)
		memcpy(bytes, queue->bytes + queue->start, count);
	queue->start += count;
	if (queue->start == queue->end)
		queueFree(queue);
	return count;
}

/* ---- the engine ------------------------------------------------------------- */

/*
 * Incoming records are followed (RFC 5246 6.2: type, version, 16-bit length)
 * to read the two things Mbed TLS's public API does not expose:
 * - a plaintext alert (2-byte record of type 21): the server's reason for
 *   refusing us. After ChangeCipherSpec (TLS 1.2) or in TLS 1.3 alerts are
 *   encrypted and stay unknown (-1).
 * - the protocol selected in a TLS 1.2 ServerHello's ALPN extension (RFC 7301
 *   3.1), so a server that selects one we did not offer is reported as such
 *   (Mbed TLS only says "handshake failure").
 */
#define kRecordHandshake (22)
#define kRecordAlert (21)
#define kHandshakeServerHello (2)
#define kExtensionAlpn (16)
#define kExtensionSupportedVersions (43)
#define kServerHelloMax (1024)

typedef struct {
	uint8_t header[5];
	uint8_t headerLength;
	uint16_t remaining;			/* body bytes of the current record still to come */
	uint8_t type;
	uint16_t length;
	uint8_t alertBody[2];
	uint8_t helloDone;			/* the first handshake message has been looked at */
	uint16_t helloLength;
	uint8_t *hello;				/* the first handshake bytes, up to kServerHelloMax */
} flTlsSniffer;

struct flTlsEngineRecord {
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config config;
	mbedtls_x509_crt ca;
	mbedtls_x509_crt own;
	mbedtls_pk_context key;
	const char *alpnList[FL_TLS_ALPN_COUNT + 1];
	char alpnNames[FL_TLS_ALPN_COUNT][FL_TLS_ALPN_MAX + 1];
	int alpnCount;
	flTlsQueue input;
	flTlsQueue output;
	flTlsSniffer sniffer;
	flTlsFailure failure;
	int failed;
	int handshakeDone;
	int offeredSession;
	int sawCertificate;
	int newSession;
	const char *keyType;
	int serverHelloSeen;
	int serverHelloAlpnSeen;
	int serverHelloTls13;
	char serverHelloAlpn[FL_TLS_ALPN_MAX + 1];
};

/*
 * Certificate profile for the server's chain: SHA-256 or stronger signatures,
 * RSA keys of 2048 bits or more, EC keys on curves of 128-bit security or more
 * (the same set as Mbed TLS 4's default profile, pinned here so a later
 * library default cannot loosen it). SHA-1 and MD5 signatures, RSA-1024 and
 * 192/224-bit curves are refused (MBEDTLS_X509_BADCERT_BAD_MD / BAD_KEY).
 */
static const mbedtls_x509_crt_profile gProfile = {
	MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) |
	MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
	MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
	0xFFFFFFF,
#if defined(PSA_WANT_KEY_TYPE_ECC_PUBLIC_KEY)
	MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1) |
	MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP384R1) |
	MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP521R1),
#else
	0,
#endif
	2048
};

/*
 * Cipher suites offered: forward-secret ECDHE with AEAD only (no CBC, no RSA
 * key transport); AWS IoT Core's default policy accepts the TLS 1.2 ones.
 * Suites with RSA server certificates come first, and RSA signatures first in
 * signature_algorithms: AWS IoT presents its RSA chain (Amazon Root CA 1) for
 * them, and on ESP32, ESP32-S3 and ESP32-C3 an RSA-2048 signature check runs on
 * the big-number accelerator (at most 45 ms, ESP-IDF's performance bound) while
 * an ECDSA P-256 check is software (230 ms at 240 MHz, TF-PSA-Crypto pull
 * request #873); a full handshake checks three. Suites a build lacks are
 * skipped by Mbed TLS.
 */
static const int gCiphersuites[] = {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
	MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
	MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
	MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
#endif
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	0
};

/* SHA-256 or stronger only; RSA before ECDSA (see above). Ones a build lacks are not offered. */
static const uint16_t gSignatureAlgorithms[] = {
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP521R1_SHA512,
	MBEDTLS_TLS1_3_SIG_NONE
};

static void fail(flTlsEngine engine, flTlsFailureKind kind, int code)
{
	if (engine->failed)
		return;
	engine->failed = 1;
	engine->failure.kind = kind;
	engine->failure.code = code;
}

/* Reads the ALPN extension of a TLS 1.2 ServerHello body (RFC 5246 7.4.1.3). */
static void readServerHello(flTlsEngine engine, const uint8_t *body, size_t length)
{
	size_t at = 2 + 32;			/* server_version, random */
	if (length < at + 1)
		return;
	at += 1 + body[at];			/* session_id */
	at += 2 + 1;				/* cipher_suite, compression_method */
	if (length < at + 2)
		return;
	size_t end = at + 2 + ((body[at] << 8) | body[at + 1]);
	at += 2;
	if (end > length)
		return;
	while (at + 4 <= end) {
		unsigned type = (body[at] << 8) | body[at + 1];
		size_t size = (body[at + 2] << 8) | body[at + 3];
		at += 4;
		if (at + size > end)
			return;
		if (kExtensionSupportedVersions == type)
			engine->serverHelloTls13 = 1;	/* TLS 1.3: ALPN comes in EncryptedExtensions */
		else if ((kExtensionAlpn == type) && (size >= 3)) {
			size_t nameLength = body[at + 2];
			if (3 + nameLength <= size) {
				if (nameLength > FL_TLS_ALPN_MAX)
					nameLength = FL_TLS_ALPN_MAX;
				memcpy(engine->serverHelloAlpn, body + at + 3, nameLength);
				engine->serverHelloAlpn[nameLength] = 0;
				engine->serverHelloAlpnSeen = 1;
			}
		}
		at += size;
	}
}

static void sniffBody(flTlsEngine engine, const uint8_t *bytes, size_t count)
{
	flTlsSniffer *sniffer = &engine->sniffer;
	size_t offset = sniffer->length - sniffer->remaining;

	if ((kRecordAlert == sniffer->type) && (2 == sniffer->length)) {
		memcpy(sniffer->alertBody + offset, bytes, count);
		if (count == sniffer->remaining)
			engine->failure.alert = sniffer->alertBody[1];
	}
	else if ((kRecordHandshake == sniffer->type) && !sniffer->helloDone) {
		if (!sniffer->hello) {
			sniffer->hello = mbedtls_calloc(1, kServerHelloMax);
			if (!sniffer->hello) {
				sniffer->helloDone = 1;
				return;
			}
		}
		size_t room = kServerHelloMax - sniffer->helloLength;
		size_t copy = (count < room) ? count : room;
		memcpy(sniffer->hello + sniffer->helloLength, bytes, copy);
		sniffer->helloLength += copy;
		if (kHandshakeServerHello == sniffer->hello[0])
			engine->serverHelloSeen = 1;
		if (sniffer->helloLength >= 4) {
			size_t messageLength = ((size_t)sniffer->hello[1] << 16) | (sniffer->hello[2] << 8) | sniffer->hello[3];
			if ((sniffer->hello[0] != kHandshakeServerHello) || (4 + messageLength > kServerHelloMax))
				sniffer->helloDone = 1;
			else if (sniffer->helloLength >= 4 + messageLength) {
				readServerHello(engine, sniffer->hello + 4, messageLength);
				sniffer->helloDone = 1;
			}
		}
		if (sniffer->helloDone) {
			mbedtls_free(sniffer->hello);
			sniffer->hello = NULL;
		}
	}
}

static void sniff(flTlsEngine engine, const uint8_t *bytes, size_t length)
{
	flTlsSniffer *sniffer = &engine->sniffer;
	while (length) {
		if (sniffer->remaining) {
			size_t count = (length < sniffer->remaining) ? length : sniffer->remaining;
			sniffBody(engine, bytes, count);
			sniffer->remaining -= count;
			bytes += count;
			length -= count;
			continue;
		}
		sniffer->header[sniffer->headerLength++] = *bytes++;
		length--;
		if (5 == sniffer->headerLength) {
			sniffer->headerLength = 0;
			sniffer->type = sniffer->header[0];
			sniffer->length = (sniffer->header[3] << 8) | sniffer->header[4];
			sniffer->remaining = sniffer->length;
			if ((kRecordHandshake != sniffer->type) && (kRecordAlert != sniffer->type))
				sniffer->helloDone = 1;		/* ChangeCipherSpec or data: no plaintext ServerHello follows */
		}
	}
}

static int bioSend(void *context, const unsigned char *bytes, size_t length)
{
	flTlsEngine engine = context;
	if (queuePush(&engine->output, bytes, length))
		return PSA_ERROR_INSUFFICIENT_MEMORY;
	return (int)length;
}

static int bioReceive(void *context, unsigned char *bytes, size_t length)
{
	flTlsEngine engine = context;
	if (!queueLength(&engine->input))
		return MBEDTLS_ERR_SSL_WANT_READ;
	return (int)queueTake(&engine->input, bytes, length);
}

/*
 * Called by Mbed TLS for each certificate of the server's chain while
 * mbedtls_x509_crt_verify_with_profile runs inside the handshake. It only adds
 * failures: the leaf must carry subjectAltName (browsers stopped falling back
 * to the CN; Mbed TLS still would).
 */
static int verifyCertificate(void *context, mbedtls_x509_crt *certificate, int depth, uint32_t *flags)
{
	flTlsEngine engine = context;
	engine->sawCertificate = 1;
	if ((0 == depth) && !mbedtls_x509_crt_has_ext_type(certificate, MBEDTLS_X509_EXT_SUBJECT_ALT_NAME))
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return 0;
}

/* Parses one or more certificates: PEM text, or DER certificates back to back. */
static int parseCertificates(mbedtls_x509_crt *chain, const uint8_t *bytes, size_t length)
{
	if (!length)
		return PSA_ERROR_INVALID_ARGUMENT;
	if ((length > 11) && !memcmp(bytes, "-----BEGIN ", 11)) {
		uint8_t *text = mbedtls_calloc(1, length + 1);		/* PEM must end with a NUL */
		if (!text)
			return PSA_ERROR_INSUFFICIENT_MEMORY;
		memcpy(text, bytes, length);
		int result = mbedtls_x509_crt_parse(chain, text, length + 1);
		mbedtls_free(text);
		return result;
	}
	while (length) {
		/* SEQUENCE with a definite length (X.690 8.1.3) */
		size_t header = 2, size;
		if ((length < 2) || (0x30 != bytes[0]))
			return MBEDTLS_ERR_X509_INVALID_FORMAT;
		if (bytes[1] < 0x80)
			size = bytes[1];
		else {
			size_t octets = bytes[1] & 0x7F;
			if (!octets || (octets > 3) || (length < 2 + octets))
				return MBEDTLS_ERR_X509_INVALID_FORMAT;
			size = 0;
			for (size_t i = 0; i < octets; i++)
				size = (size << 8) | bytes[2 + i];
			header += octets;
		}
		if (header + size > length)
			return MBEDTLS_ERR_X509_INVALID_FORMAT;
		int result = mbedtls_x509_crt_parse_der(chain, bytes, header + size);
		if (result)
			return result;
		bytes += header + size;
		length -= header + size;
	}
	return 0;
}

static int parseKey(mbedtls_pk_context *key, const uint8_t *bytes, size_t length)
{
	if ((length > 11) && !memcmp(bytes, "-----BEGIN ", 11)) {
		uint8_t *text = mbedtls_calloc(1, length + 1);
		if (!text)
			return PSA_ERROR_INSUFFICIENT_MEMORY;
		memcpy(text, bytes, length);
		int result = mbedtls_pk_parse_key(key, text, length + 1, NULL, 0);
		mbedtls_platform_zeroize(text, length + 1);
		mbedtls_free(text);
		return result;
	}
	return mbedtls_pk_parse_key(key, bytes, length, NULL, 0);
}

/*
 * RSA of 2048 bits or more, or EC on P-256 or P-384: what AWS IoT accepts as
 * device keys. Returns the key's name ("rsa-2048", "ec-p256", ...) or NULL.
 */
static const char *keyTypeAccepted(const mbedtls_pk_context *key)
{
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
	if (mbedtls_pk_get_psa_attributes(key, PSA_KEY_USAGE_SIGN_HASH, &attributes))
		return NULL;
	psa_key_type_t type = psa_get_key_type(&attributes);
	size_t bits = psa_get_key_bits(&attributes);
	psa_reset_key_attributes(&attributes);
	if (PSA_KEY_TYPE_IS_RSA(type))
		return (bits >= 4096) ? "rsa-4096" : (bits >= 3072) ? "rsa-3072" : (bits >= 2048) ? "rsa-2048" : NULL;
	if (PSA_KEY_TYPE_IS_ECC(type) && (PSA_KEY_TYPE_ECC_GET_FAMILY(type) == PSA_ECC_FAMILY_SECP_R1))
		return (256 == bits) ? "ec-p256" : (384 == bits) ? "ec-p384" : NULL;
	return NULL;
}

static int setAlpn(flTlsEngine engine, const char *alpn)
{
	const char *at = alpn ? alpn : "";
	while (*at) {
		const char *comma = strchr(at, ',');
		size_t length = comma ? (size_t)(comma - at) : strlen(at);
		if (length) {
			if ((engine->alpnCount == FL_TLS_ALPN_COUNT) || (length > FL_TLS_ALPN_MAX))
				return PSA_ERROR_INVALID_ARGUMENT;
			memcpy(engine->alpnNames[engine->alpnCount], at, length);
			engine->alpnNames[engine->alpnCount][length] = 0;
			engine->alpnList[engine->alpnCount] = engine->alpnNames[engine->alpnCount];
			engine->alpnCount++;
		}
		at += length;
		if (*at == ',')
			at++;
	}
	engine->alpnList[engine->alpnCount] = NULL;
	if (!engine->alpnCount)
		return 0;
	return mbedtls_ssl_conf_alpn_protocols(&engine->config, engine->alpnList);
}

static flTlsStatus refuseCredentials(flTlsEngine engine, flTlsFailure *failure, const char *what, int code)
{
	failure->kind = ((PSA_ERROR_INSUFFICIENT_MEMORY == code) ? FL_TLS_FAIL_MEMORY : FL_TLS_FAIL_CREDENTIALS);
	failure->code = code;
	failure->what = what;
	flTlsEngineFree(engine);
	return FL_TLS_FAILED;
}

flTlsStatus flTlsEngineNew(flTlsEngine *result, const flTlsOptions *options, flTlsFailure *failure)
{
	int code;

	memset(failure, 0, sizeof(*failure));
	failure->alert = -1;
	*result = NULL;

	code = flTlsGlobalInit();
	if (code) {
		failure->kind = FL_TLS_FAIL_MEMORY;
		failure->code = code;
		failure->what = "psa_crypto_init";
		return FL_TLS_FAILED;
	}

	flTlsEngine engine = mbedtls_calloc(1, sizeof(flTlsEngineRecord));
	if (!engine) {
		failure->kind = FL_TLS_FAIL_MEMORY;
		failure->code = PSA_ERROR_INSUFFICIENT_MEMORY;
		failure->what = "engine";
		return FL_TLS_FAILED;
	}
	engine->failure.alert = -1;
	mbedtls_ssl_init(&engine->ssl);
	mbedtls_ssl_config_init(&engine->config);
	mbedtls_x509_crt_init(&engine->ca);
	mbedtls_x509_crt_init(&engine->own);
	mbedtls_pk_init(&engine->key);

	if ((code = parseCertificates(&engine->ca, options->ca, options->caLength)))
		return refuseCredentials(engine, failure, "trusted CA", code);
	if ((code = parseCertificates(&engine->own, options->certificate, options->certificateLength)))
		return refuseCredentials(engine, failure, "device certificate", code);
	if ((code = parseKey(&engine->key, options->key, options->keyLength)))
		return refuseCredentials(engine, failure, "device key", code);
	engine->keyType = keyTypeAccepted(&engine->key);
	if (!engine->keyType)
		return refuseCredentials(engine, failure, "device key type (RSA >= 2048 or EC P-256/P-384)", PSA_ERROR_NOT_SUPPORTED);
	if ((code = mbedtls_pk_check_pair(&engine->own.pk, &engine->key)))
		return refuseCredentials(engine, failure, "device key does not belong to the device certificate", code);

	if ((code = mbedtls_ssl_config_defaults(&engine->config, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)))
		return refuseCredentials(engine, failure, "configuration", code);
	mbedtls_ssl_conf_authmode(&engine->config, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_cert_profile(&engine->config, &gProfile);
	mbedtls_ssl_conf_ca_chain(&engine->config, &engine->ca, NULL);
	mbedtls_ssl_conf_verify(&engine->config, verifyCertificate, engine);
	mbedtls_ssl_conf_ciphersuites(&engine->config, gCiphersuites);
	mbedtls_ssl_conf_sig_algs(&engine->config, gSignatureAlgorithms);
	mbedtls_ssl_conf_min_tls_version(&engine->config, MBEDTLS_SSL_VERSION_TLS1_2);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
	mbedtls_ssl_conf_max_tls_version(&engine->config, (0x0304 == options->maxVersion) ? MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
#else
	mbedtls_ssl_conf_max_tls_version(&engine->config, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
	mbedtls_ssl_conf_renegotiation(&engine->config, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
	mbedtls_ssl_conf_session_tickets(&engine->config, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
#endif
	if ((code = mbedtls_ssl_conf_own_cert(&engine->config, &engine->own, &engine->key)))
		return refuseCredentials(engine, failure, "device certificate and key", code);
	if ((code = setAlpn(engine, options->alpn)))
		return refuseCredentials(engine, failure, "ALPN list (at most 4 names of at most 32 bytes)", code);

	if ((code = mbedtls_ssl_setup(&engine->ssl, &engine->config)))
		return refuseCredentials(engine, failure, "TLS context", code);
	if ((code = mbedtls_ssl_set_hostname(&engine->ssl, options->serverName)))
		return refuseCredentials(engine, failure, "server name", code);
	mbedtls_ssl_set_bio(&engine->ssl, engine, bioSend, bioReceive, NULL);

	if (options->session && options->sessionLength) {
		mbedtls_ssl_session session;
		mbedtls_ssl_session_init(&session);
		/* A session this build cannot load (other library version or options) costs a full handshake. */
		if (!mbedtls_ssl_session_load(&session, options->session, options->sessionLength) &&
			!mbedtls_ssl_set_session(&engine->ssl, &session))
			engine->offeredSession = 1;
		mbedtls_ssl_session_free(&session);
	}

	*result = engine;
	return FL_TLS_AGAIN;
}

void flTlsEngineFree(flTlsEngine engine)
{
	if (!engine)
		return;
	mbedtls_ssl_free(&engine->ssl);
	mbedtls_ssl_config_free(&engine->config);
	mbedtls_x509_crt_free(&engine->ca);
	mbedtls_x509_crt_free(&engine->own);
	mbedtls_pk_free(&engine->key);
	queueFree(&engine->input);
	queueFree(&engine->output);
	if (engine->sniffer.hello)
		mbedtls_free(engine->sniffer.hello);
	mbedtls_free(engine);
}

int flTlsEngineFeed(flTlsEngine engine, const uint8_t *bytes, size_t length)
{
	if (engine->failed)
		return 0;
	sniff(engine, bytes, length);
	if (queuePush(&engine->input, bytes, length)) {
		fail(engine, FL_TLS_FAIL_MEMORY, PSA_ERROR_INSUFFICIENT_MEMORY);
		return -1;
	}
	return 0;
}

static int alpnOffered(flTlsEngine engine, const char *name)
{
	for (int i = 0; i < engine->alpnCount; i++) {
		if (!strcmp(engine->alpnNames[i], name))
			return 1;
	}
	return 0;
}

/*
 * Mbed TLS also answers WANT_READ after a step that consumed a message but
 * not the bytes behind it (a TLS 1.3 NewSessionTicket: it switches state and
 * asks to be called again). Call again while fed bytes or a buffered record
 * remain; a few calls without them mean it really waits for the network.
 */
static int moreToRead(flTlsEngine engine, int *spins)
{
	if (++*spins > 8)
		return 0;
	return queueLength(&engine->input) || mbedtls_ssl_check_pending(&engine->ssl);
}

static void failHandshake(flTlsEngine engine, int code)
{
	uint32_t flags = mbedtls_ssl_get_verify_result(&engine->ssl);
	if (0xFFFFFFFF == flags)
		flags = 0;		/* no verification ran */

	if ((MBEDTLS_ERR_X509_CERT_VERIFY_FAILED == code) || ((MBEDTLS_ERR_SSL_BAD_CERTIFICATE == code) && flags)) {
		/* BAD_CERTIFICATE: the chain verified but the leaf's (extended) key usage forbids a TLS server */
		engine->failure.verifyFlags = flags;
		fail(engine, FL_TLS_FAIL_CERTIFICATE, code);
	}
	else if ((code <= -0x2000) && (code > -0x3000)) {
		/* MBEDTLS_ERR_X509_*: the server's certificate does not parse */
		engine->failure.verifyFlags = MBEDTLS_X509_BADCERT_OTHER;
		fail(engine, FL_TLS_FAIL_CERTIFICATE, code);
	}
	else if ((MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE == code) && !engine->serverHelloSeen &&
		((MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE == engine->failure.alert) ||
		 (MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION == engine->failure.alert) ||
		 (MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY == engine->failure.alert)))
		fail(engine, FL_TLS_FAIL_NEGOTIATION, code);
	else if (MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE == code)
		fail(engine, FL_TLS_FAIL_ALERT, code);
	else if (engine->alpnCount && engine->serverHelloAlpnSeen && !alpnOffered(engine, engine->serverHelloAlpn)) {
		strcpy(engine->failure.alpn, engine->serverHelloAlpn);
		fail(engine, FL_TLS_FAIL_ALPN, code);
	}
	else if (MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION == code)
		fail(engine, FL_TLS_FAIL_VERSION, code);
	else if (PSA_ERROR_INSUFFICIENT_MEMORY == code)
		fail(engine, FL_TLS_FAIL_MEMORY, code);
	else
		fail(engine, FL_TLS_FAIL_HANDSHAKE, code);
}

flTlsStatus flTlsEngineHandshake(flTlsEngine engine)
{
	if (engine->failed)
		return FL_TLS_FAILED;
	if (engine->handshakeDone)
		return FL_TLS_DONE;

	int code, spins = 0;
	do
		code = mbedtls_ssl_handshake(&engine->ssl);
	while ((MBEDTLS_ERR_SSL_WANT_READ == code) && moreToRead(engine, &spins));
	if ((MBEDTLS_ERR_SSL_WANT_READ == code) || (MBEDTLS_ERR_SSL_WANT_WRITE == code))
		return FL_TLS_AGAIN;
	if (code) {
		failHandshake(engine, code);
		return FL_TLS_FAILED;
	}

	if (engine->alpnCount) {
		const char *selected = mbedtls_ssl_get_alpn_protocol(&engine->ssl);
		if (!selected || !alpnOffered(engine, selected)) {
			/* RFC 7301 3.2: no_application_protocol, then nothing else is sent */
			mbedtls_ssl_send_alert_message(&engine->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL);
			if (selected) {
				strncpy(engine->failure.alpn, selected, FL_TLS_ALPN_MAX);
				engine->failure.alpn[FL_TLS_ALPN_MAX] = 0;
			}
			fail(engine, FL_TLS_FAIL_ALPN, 0);
			return FL_TLS_FAILED;
		}
	}

	engine->handshakeDone = 1;
	/* TLS 1.3 sessions are tickets, which arrive after the handshake (flTlsEngineRead). */
	if (MBEDTLS_SSL_VERSION_TLS1_2 == mbedtls_ssl_get_version_number(&engine->ssl))
		engine->newSession = 1;
	return FL_TLS_DONE;
}

size_t flTlsEngineOutputLength(flTlsEngine engine)
{
	return queueLength(&engine->output);
}

size_t flTlsEngineTakeOutput(flTlsEngine engine, uint8_t *bytes, size_t max)
{
	return queueTake(&engine->output, bytes, max);
}

int flTlsEngineWrite(flTlsEngine engine, const uint8_t *bytes, size_t length)
{
	size_t written = 0;
	if (engine->failed || !engine->handshakeDone)
		return -1;
	while ((written < length) && (queueLength(&engine->output) < FL_TLS_OUTPUT_HIGH)) {
		int code = mbedtls_ssl_write(&engine->ssl, bytes + written, length - written);
		if (code < 0) {
			fail(engine, (PSA_ERROR_INSUFFICIENT_MEMORY == code) ? FL_TLS_FAIL_MEMORY : FL_TLS_FAIL_RECORD, code);
			return -1;
		}
		written += code;
	}
	return (int)written;
}

int flTlsEngineRead(flTlsEngine engine, uint8_t *bytes, size_t max)
{
	int spins = 0;
	if (engine->failed)
		return -1;
	for (;;) {
		int code = mbedtls_ssl_read(&engine->ssl, bytes, max);
		if (code > 0)
			return code;
		if ((MBEDTLS_ERR_SSL_WANT_READ == code) && moreToRead(engine, &spins))
			continue;
		if ((MBEDTLS_ERR_SSL_WANT_READ == code) || (MBEDTLS_ERR_SSL_WANT_WRITE == code))
			return 0;
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && defined(MBEDTLS_SSL_SESSION_TICKETS)
		if (MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET == code) {
			engine->newSession = 1;
			continue;
		}
#endif
		if (MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY == code)
			fail(engine, FL_TLS_FAIL_CLOSED, code);
		else if (MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE == code)
			fail(engine, FL_TLS_FAIL_ALERT, code);
		else if (0 == code)
			fail(engine, FL_TLS_FAIL_CLOSED, 0);
		else
			fail(engine, (PSA_ERROR_INSUFFICIENT_MEMORY == code) ? FL_TLS_FAIL_MEMORY : FL_TLS_FAIL_RECORD, code);
		return -1;
	}
}

void flTlsEngineCloseNotify(flTlsEngine engine)
{
	if (!engine->failed && engine->handshakeDone)
		mbedtls_ssl_close_notify(&engine->ssl);
}

const flTlsFailure *flTlsEngineFailure(flTlsEngine engine)
{
	return engine->failed ? &engine->failure : NULL;
}

void flTlsEngineInfo(flTlsEngine engine, flTlsInfo *info)
{
	info->version = (int)mbedtls_ssl_get_version_number(&engine->ssl);
	info->offeredSession = engine->offeredSession;
	info->resumed = engine->handshakeDone && engine->offeredSession && !engine->sawCertificate;
	info->alpn = mbedtls_ssl_get_alpn_protocol(&engine->ssl);
	info->ciphersuite = mbedtls_ssl_get_ciphersuite(&engine->ssl);
	info->keyType = engine->keyType;
}

int flTlsEngineHasNewSession(flTlsEngine engine)
{
	return engine->newSession && !engine->failed;
}

int flTlsEngineSaveSession(flTlsEngine engine, uint8_t *bytes, size_t capacity, size_t *length)
{
	mbedtls_ssl_session session;
	int code;

	*length = 0;
	mbedtls_ssl_session_init(&session);
	code = mbedtls_ssl_get_session(&engine->ssl, &session);
	if (!code)
		code = mbedtls_ssl_session_save(&session, bytes, capacity, length);
	mbedtls_ssl_session_free(&session);
	engine->newSession = 0;
	return code;
}
