/*
 * hal/moddable/native/tls: the JavaScript face of tls.c (Mbed TLS 4 engine over
 * memory buffers, retained session, PSA random generator). The contract and its
 * TypeScript types are in tls.d.ts; hal/moddable/secure-stream.ts is the user.
 */

class Engine @ "xs_fieldlink_tls_destructor" {
	constructor(ca, certificate, key, serverName, port, alpn, maxVersion, resume) @ "xs_fieldlink_tls_constructor";
	handshake() @ "xs_fieldlink_tls_handshake";
	feed(bytes) @ "xs_fieldlink_tls_feed";
	get pending() @ "xs_fieldlink_tls_pending";
	take(max) @ "xs_fieldlink_tls_take";
	write(bytes, offset) @ "xs_fieldlink_tls_write";
	read() @ "xs_fieldlink_tls_read";
	closeNotify() @ "xs_fieldlink_tls_close_notify";
	info() @ "xs_fieldlink_tls_info";
	failure() @ "xs_fieldlink_tls_failure";
	close() @ "xs_fieldlink_tls_close";
}
Object.freeze(Engine.prototype);

function randomBytes(count) @ "xs_fieldlink_tls_random_bytes";
function clearSession() @ "xs_fieldlink_tls_clear_session";
function sessionLength() @ "xs_fieldlink_tls_session_length";
function heap() @ "xs_fieldlink_tls_heap";
function resetHeapPeak() @ "xs_fieldlink_tls_heap_reset_peak";
function supportsTls13() @ "xs_fieldlink_tls_supports_tls13";

export { Engine, randomBytes, clearSession, sessionLength, heap, resetHeapPeak, supportsTls13 };
