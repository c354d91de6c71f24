/*
 * hal/moddable/native/station on ESP32: the JavaScript face of
 * station-esp32.c. The contract (and its TypeScript types) is
 * hal/moddable/native/station.d.ts.
 */

function nativeJoin(options, callback) @ "xs_station_join";
function nativeLeave() @ "xs_station_leave";
function nativeForgetLease() @ "xs_station_forget_lease";
function nativeInfo() @ "xs_station_info";

export function join(options, onEvent) {
	nativeJoin(options, onEvent);
}

export function leave() {
	nativeLeave();
}

export function forgetLease() {
	nativeForgetLease();
}

export function info() {
	return nativeInfo();
}
