/*
 * hal/moddable/native/tls: XS host functions for tls.js over the engine in
 * tls-engine.c and the retained session in tls-store.c. The contract (and its
 * TypeScript types) is tls.d.ts; hal/moddable/secure-stream.ts pumps the bytes.
 *
 * Each Engine host object owns one flTlsHost. Its engine is freed by close()
 * or by the garbage collector (xs_fieldlink_tls_destructor), whichever comes first.
 */

#include "tls-mbedtls.h"

#include "xsmc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "psa/crypto.h"

#include "tls-engine.h"
#include "tls-store.h"

/* A kept session is offered for at most this long; the server's own lifetime hint is not exposed by Mbed TLS's API. */
#define kSessionMaxAgeSeconds (24 * 60 * 60)
/* Before this (2000-01-01) the wall clock was never set: no expiry can be judged. */
#define kClockSetAfter (946684800)
/* Plaintext handed to JavaScript per read() call. */
#define kReadChunk (2048)

typedef struct {
	flTlsEngine engine;
	flTlsFailure failure;			/* why the engine could not be made, or why it failed before close() */
	uint8_t hasFailure;
	uint8_t tag[FL_TLS_STORE_TAG_LENGTH];
	uint8_t sessionOffered;
	int32_t sessionBytes;			/* bytes of the last session kept, -1 if it did not fit */
} flTlsHost;

static uint8_t gReadBuffer[kReadChunk];
static uint8_t gSessionBuffer[FL_TLS_STORE_CAPACITY];

void xs_fieldlink_tls_destructor(void *data)
{
	flTlsHost *host = data;
	if (!host)
		return;
	flTlsEngineFree(host->engine);
	free(host);
}

static flTlsHost *getHost(xsMachine *the)
{
	flTlsHost *host = xsmcGetHostDataValidate(xsThis, xs_fieldlink_tls_destructor);
	if (!host)
		xsUnknownError("TLS engine closed");
	return host;
}

static flTlsEngine getEngine(xsMachine *the)
{
	flTlsHost *host = getHost(the);
	if (!host->engine)
		xsUnknownError("TLS engine closed");
	return host->engine;
}

static uint32_t wallSeconds(void)
{
	time_t now = time(NULL);
	return (now > 0) ? (uint32_t)now : 0;
}

/* SHA-256 over what a kept session belongs to: server name, port, trusted CA, device certificate. */
static int sessionTag(uint8_t tag[FL_TLS_STORE_TAG_LENGTH], const char *serverName, int port,
	const uint8_t *ca, size_t caLength, const uint8_t *certificate, size_t certificateLength)
{
	psa_hash_operation_t operation = PSA_HASH_OPERATION_INIT;
	uint8_t separator[3] = { 0, (uint8_t)(port >> 8), (uint8_t)port };
	size_t length;
	psa_status_t status = psa_hash_setup(&operation, PSA_ALG_SHA_256);
	if (PSA_SUCCESS == status)
		status = psa_hash_update(&operation, (const uint8_t *)serverName, strlen(serverName));
	if (PSA_SUCCESS == status)
		status = psa_hash_update(&operation, separator, sizeof(separator));
	if (PSA_SUCCESS == status)
		status = psa_hash_update(&operation, ca, caLength);
	if (PSA_SUCCESS == status)
		status = psa_hash_update(&operation, certificate, certificateLength);
	if (PSA_SUCCESS == status)
		status = psa_hash_finish(&operation, tag, FL_TLS_STORE_TAG_LENGTH, &length);
	psa_hash_abort(&operation);
	return status;
}

/* Keeps the engine's session in the retained store when it has a new one. */
static void keepSession(flTlsHost *host)
{
	size_t length;
	if (!host->engine || !flTlsEngineHasNewSession(host->engine))
		return;
	if (flTlsEngineSaveSession(host->engine, gSessionBuffer, sizeof(gSessionBuffer), &length)) {
		host->sessionBytes = -1;
		return;
	}
	uint32_t now = wallSeconds();
	if (now < kClockSetAfter)
		return;
	flTlsStoreSave(host->tag, gSessionBuffer, length, now + kSessionMaxAgeSeconds);
	host->sessionBytes = (int32_t)length;
}

/* new Engine(ca, certificate, key, serverName, port, alpn, maxVersion, resume) */
void xs_fieldlink_tls_constructor(xsMachine *the)
{
	flTlsOptions options;
	char serverName[256];
	char alpn[(FL_TLS_ALPN_MAX + 1) * FL_TLS_ALPN_COUNT];
	void *data;
	xsUnsignedValue length;

	memset(&options, 0, sizeof(options));
	xsmcGetBufferReadable(xsArg(0), &data, &length);
	options.ca = data;
	options.caLength = length;
	xsmcGetBufferReadable(xsArg(1), &data, &length);
	options.certificate = data;
	options.certificateLength = length;
	xsmcGetBufferReadable(xsArg(2), &data, &length);
	options.key = data;
	options.keyLength = length;
	xsmcToStringBuffer(xsArg(3), serverName, sizeof(serverName));
	options.serverName = serverName;
	int port = xsmcToInteger(xsArg(4));
	xsmcToStringBuffer(xsArg(5), alpn, sizeof(alpn));
	options.alpn = alpn;
	options.maxVersion = xsmcToInteger(xsArg(6));
	int resume = xsmcTest(xsArg(7));

	flTlsHost *host = calloc(1, sizeof(flTlsHost));
	if (!host)
		xsUnknownError("no memory for a TLS engine");
	host->failure.alert = -1;
	xsmcSetHostData(xsThis, host);

	int code = flTlsGlobalInit();
	if (!code)
		code = sessionTag(host->tag, serverName, port, options.ca, options.caLength, options.certificate, options.certificateLength);
	if (code) {
		host->failure.kind = FL_TLS_FAIL_MEMORY;
		host->failure.code = code;
		host->failure.what = "PSA crypto";
		host->hasFailure = 1;
		return;
	}
	if (resume) {
		size_t sessionLength;
		const uint8_t *session = flTlsStoreLoad(host->tag, wallSeconds(), &sessionLength);
		if (session) {
			options.session = session;
			options.sessionLength = sessionLength;
		}
	}
	if (FL_TLS_FAILED == flTlsEngineNew(&host->engine, &options, &host->failure)) {
		host->hasFailure = 1;
		return;
	}
	host->sessionOffered = (uint8_t)(options.session != NULL);
}

/* handshake(): 0 done, 1 again, 2 failed */
void xs_fieldlink_tls_handshake(xsMachine *the)
{
	flTlsHost *host = getHost(the);
	if (!host->engine) {
		xsmcSetInteger(xsResult, FL_TLS_FAILED);
		return;
	}
	flTlsStatus status = flTlsEngineHandshake(host->engine);
	if (FL_TLS_DONE == status)
		keepSession(host);
	else if ((FL_TLS_FAILED == status) && host->sessionOffered)
		flTlsStoreClear();		/* never offer a session again that ended in a failed handshake */
	xsmcSetInteger(xsResult, status);
}

/* feed(bytes) */
void xs_fieldlink_tls_feed(xsMachine *the)
{
	flTlsEngine engine = getEngine(the);
	void *data;
	xsUnsignedValue length;
	xsmcGetBufferReadable(xsArg(0), &data, &length);
	flTlsEngineFeed(engine, data, length);
}

/* get pending(): ciphertext bytes waiting to be sent */
void xs_fieldlink_tls_pending(xsMachine *the)
{
	flTlsHost *host = getHost(the);
	xsmcSetInteger(xsResult, host->engine ? (xsIntegerValue)flTlsEngineOutputLength(host->engine) : 0);
}

/* take(max): ArrayBuffer of up to max ciphertext bytes, or undefined */
void xs_fieldlink_tls_take(xsMachine *the)
{
	flTlsEngine engine = getEngine(the);
	xsIntegerValue max = xsmcToInteger(xsArg(0));
	size_t length = flTlsEngineOutputLength(engine);
	if (max <= 0 || !length)
		return;
	if (length > (size_t)max)
		length = max;
	xsmcSetArrayBuffer(xsResult, NULL, length);
	flTlsEngineTakeOutput(engine, xsmcToArrayBuffer(xsResult), length);
}

/* write(bytes, offset): plaintext bytes consumed from offset, or -1 after a failure */
void xs_fieldlink_tls_write(xsMachine *the)
{
	flTlsEngine engine = getEngine(the);
	void *data;
	xsUnsignedValue length;
	xsUnsignedValue offset = xsmcToInteger(xsArg(1));
	xsmcGetBufferReadable(xsArg(0), &data, &length);
	if (offset > length)
		xsRangeError("offset beyond the buffer");
	xsmcSetInteger(xsResult, flTlsEngineWrite(engine, (const uint8_t *)data + offset, length - offset));
}

/* read(): ArrayBuffer of plaintext, 0 when nothing is complete, -1 after a failure */
void xs_fieldlink_tls_read(xsMachine *the)
{
	flTlsHost *host = getHost(the);
	if (!host->engine) {
		xsmcSetInteger(xsResult, -1);
		return;
	}
	int count = flTlsEngineRead(host->engine, gReadBuffer, sizeof(gReadBuffer));
	keepSession(host);
	if (count > 0)
		xsmcSetArrayBuffer(xsResult, gReadBuffer, count);
	else
		xsmcSetInteger(xsResult, count);
}

void xs_fieldlink_tls_close_notify(xsMachine *the)
{
	flTlsEngineCloseNotify(getEngine(the));
}

/* info(): [version, resumed, alpn | undefined, ciphersuite, sessionOffered, sessionBytes, keyType] */
void xs_fieldlink_tls_info(xsMachine *the)
{
	flTlsHost *host = getHost(the);
	flTlsInfo info;
	if (!host->engine)
		return;
	flTlsEngineInfo(host->engine, &info);
	xsmcVars(1);
	xsmcSetNewArray(xsResult, 7);
	xsmcSetInteger(xsVar(0), info.version);
	xsmcSetIndex(xsResult, 0, xsVar(0));
	xsmcSetBoolean(xsVar(0), info.resumed);
	xsmcSetIndex(xsResult, 1, xsVar(0));
	if (info.alpn)
		xsmcSetString(xsVar(0), (char *)info.alpn);
	else
		xsmcSetUndefined(xsVar(0));
	xsmcSetIndex(xsResult, 2, xsVar(0));
	xsmcSetString(xsVar(0), (char *)(info.ciphersuite ? info.ciphersuite : "unknown"));
	xsmcSetIndex(xsResult, 3, xsVar(0));
	xsmcSetBoolean(xsVar(0), info.offeredSession);
	xsmcSetIndex(xsResult, 4, xsVar(0));
	xsmcSetInteger(xsVar(0), host->sessionBytes);
	xsmcSetIndex(xsResult, 5, xsVar(0));
	xsmcSetString(xsVar(0), (char *)(info.keyType ? info.keyType : "unknown"));
	xsmcSetIndex(xsResult, 6, xsVar(0));
}

/* failure(): undefined, or [kind, code, verifyFlags, alert, alpn, what] */
void xs_fieldlink_tls_failure(xsMachine *the)
{
	flTlsHost *host = getHost(the);
	const flTlsFailure *failure = host->engine ? flTlsEngineFailure(host->engine) : (host->hasFailure ? &host->failure : NULL);
	if (!failure)
		return;
	xsmcVars(1);
	xsmcSetNewArray(xsResult, 6);
	xsmcSetInteger(xsVar(0), failure->kind);
	xsmcSetIndex(xsResult, 0, xsVar(0));
	xsmcSetInteger(xsVar(0), failure->code);
	xsmcSetIndex(xsResult, 1, xsVar(0));
	xsmcSetNumber(xsVar(0), failure->verifyFlags);
	xsmcSetIndex(xsResult, 2, xsVar(0));
	xsmcSetInteger(xsVar(0), failure->alert);
	xsmcSetIndex(xsResult, 3, xsVar(0));
	xsmcSetString(xsVar(0), (char *)failure->alpn);
	xsmcSetIndex(xsResult, 4, xsVar(0));
	xsmcSetString(xsVar(0), (char *)(failure->what ? failure->what : ""));
	xsmcSetIndex(xsResult, 5, xsVar(0));
}

void xs_fieldlink_tls_close(xsMachine *the)
{
	flTlsHost *host = xsmcGetHostDataValidate(xsThis, xs_fieldlink_tls_destructor);
	if (!host || !host->engine)
		return;
	/* keep a failure readable after close: the engine's record goes with it */
	const flTlsFailure *failure = flTlsEngineFailure(host->engine);
	if (failure) {
		host->failure = *failure;
		host->hasFailure = 1;
	}
	flTlsEngineFree(host->engine);
	host->engine = NULL;
}

/* randomBytes(count): ArrayBuffer from the PSA random generator (hardware entropy on ESP32) */
void xs_fieldlink_tls_random_bytes(xsMachine *the)
{
	xsIntegerValue count = xsmcToInteger(xsArg(0));
	if ((count < 0) || (count > 1024))
		xsRangeError("randomBytes: 0 to 1024 bytes");
	if (flTlsGlobalInit())
		xsUnknownError("PSA crypto unavailable");
	xsmcSetArrayBuffer(xsResult, NULL, count);
	if (PSA_SUCCESS != psa_generate_random(xsmcToArrayBuffer(xsResult), count))
		xsUnknownError("psa_generate_random failed");
}

void xs_fieldlink_tls_clear_session(xsMachine *the)
{
	flTlsStoreClear();
}

void xs_fieldlink_tls_session_length(xsMachine *the)
{
	xsmcSetInteger(xsResult, (xsIntegerValue)flTlsStoreLength());
}

/* heap(): [current, peak] bytes held by Mbed TLS and the engines, or undefined where not counted */
void xs_fieldlink_tls_heap(xsMachine *the)
{
	size_t current, peak;
	if (!flTlsHeapCounted())
		return;
	flTlsHeap(&current, &peak);
	xsmcVars(1);
	xsmcSetNewArray(xsResult, 2);
	xsmcSetNumber(xsVar(0), (double)current);
	xsmcSetIndex(xsResult, 0, xsVar(0));
	xsmcSetNumber(xsVar(0), (double)peak);
	xsmcSetIndex(xsResult, 1, xsVar(0));
}

void xs_fieldlink_tls_heap_reset_peak(xsMachine *the)
{
	flTlsHeapResetPeak();
}

void xs_fieldlink_tls_supports_tls13(xsMachine *the)
{
	xsmcSetBoolean(xsResult, flTlsSupportsTls13());
}
