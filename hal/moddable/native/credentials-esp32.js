/*
 * hal/moddable/native/credentials on ESP32: the JavaScript face of
 * credentials-esp32.c. Contract: credentials.d.ts.
 */

function nativeRead(name) @ "xs_fieldlink_credential_read";

export function read(name) {
	return nativeRead(name);
}

export function where() {
	return "nvs";
}
