/**
 * The native part of the Moddable HAL: module `hal/moddable/native/power`.
 *
 * Implementations (selected per platform by hal/moddable/native/manifest.json):
 * - `power-esp32.js` + `power-esp32.c`: ESP-IDF deep sleep, RTC-retained
 *   bytes, Wi-Fi power save, reset reason.
 * - `power-sim.ts` (mac, lin, win): retained bytes in RAM, deep sleep logged as
 *   unsupported (returns), power save unsupported.
 */
import type { BootReason } from '../../types';

/** Why this boot happened (ESP32: `esp_reset_reason()`). */
export function bootReason(): BootReason;

/**
 * Enter deep sleep for `ms` milliseconds (ESP32: `esp_sleep_enable_timer_wakeup`
 * + `esp_deep_sleep_start`, which does not return). Returns `false` where deep
 * sleep does not exist (the simulator); then nothing happened.
 */
export function deepSleep(ms: number): boolean;

/**
 * Restart the chip now (ESP32: `esp_restart`, which does not return; the next
 * boot reports `reset`). Returns `false` where there is no such thing (the
 * simulator); then nothing happened.
 */
export function restart(): boolean;

/** Largest byte count `retainedStore` accepts. */
export function retainedCapacity(): number;

/** The bytes last stored, if they survived (length and CRC-32 checked), else undefined. */
export function retainedLoad(): ArrayBuffer | undefined;

/** Keep `bytes` across deep sleep. Throws a RangeError beyond `retainedCapacity()`. */
export function retainedStore(bytes: ArrayBuffer): void;

/**
 * 802.11 power save while associated (ESP32: `esp_wifi_set_ps`): 0 none,
 * 1 min modem, 2 max modem. Returns `false` when it could not be applied (the
 * radio is off, or the platform has no such setting).
 */
export function setWifiPowerSave(mode: 0 | 1 | 2): boolean;
