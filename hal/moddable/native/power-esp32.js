/*
 * hal/moddable/native/power on ESP32: the JavaScript face of power-esp32.c. The
 * contract (and its TypeScript types) is hal/moddable/native/power.d.ts.
 */

function nativeBootReason() @ "xs_fieldlink_boot_reason";
function nativeRestartCause() @ "xs_fieldlink_restart_cause";
function nativeDeepSleep(ms) @ "xs_fieldlink_deep_sleep";
function nativeRestart() @ "xs_fieldlink_restart";
function nativeRetainedCapacity() @ "xs_fieldlink_retained_capacity";
function nativeRetainedLoad() @ "xs_fieldlink_retained_load";
function nativeRetainedStore(bytes) @ "xs_fieldlink_retained_store";
function nativeWatchdogArm(ms) @ "xs_fieldlink_watchdog_arm";
function nativeConfigurePowerManagement() @ "xs_fieldlink_configure_pm";
function nativeCpuBoost(on) @ "xs_fieldlink_cpu_boost";
function nativeWifiPowerSave(mode) @ "xs_fieldlink_wifi_power_save";

export function bootReason() {
	return nativeBootReason();
}

export function restartCause() {
	return nativeRestartCause();
}

export function deepSleep(ms) {
	nativeDeepSleep(ms);		// does not return: the chip sleeps, or restarts if it cannot
	return true;
}

export function restart() {
	nativeRestart();		// does not return
	return true;
}

export function retainedCapacity() {
	return nativeRetainedCapacity();
}

export function retainedLoad() {
	return nativeRetainedLoad();
}

export function retainedStore(bytes) {
	nativeRetainedStore(bytes);
}

export function watchdogArm(ms) {
	return nativeWatchdogArm(ms);
}

export function configurePowerManagement() {
	return nativeConfigurePowerManagement();
}

export function cpuBoost(on) {
	return nativeCpuBoost(on);
}

export function setWifiPowerSave(mode) {
	return nativeWifiPowerSave(mode);
}
