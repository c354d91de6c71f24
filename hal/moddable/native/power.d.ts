/**
 * The native part of the Moddable HAL: module `hal/moddable/native/power`.
 *
 * Implementations (selected per platform by hal/moddable/native/manifest.json):
 * - `power-esp32.js` + `power-esp32.c`: ESP-IDF deep sleep, retained bytes in
 *   RTC memory that no reset initialises, the application watchdog, power
 *   management, Wi-Fi power save, reset reason.
 * - `power-sim.ts` (mac, lin, win): retained bytes in RAM, deep sleep logged as
 *   unsupported (returns), no watchdog, no power management.
 */
import type { BootReason } from '../../types';

/**
 * Why this boot happened (ESP32: `esp_reset_reason()`; a restart the
 * application watchdog caused is `watchdog`). After `power-on` nothing is
 * retained.
 */
export function bootReason(): BootReason;

/**
 * Why this firmware restarted the chip before this boot, when it did:
 * `watchdog` (the application watchdog expired) or `sleep-failed` (ESP-IDF
 * refused the deep sleep, so the chip restarted instead). Undefined otherwise.
 */
export function restartCause(): 'watchdog' | 'sleep-failed' | undefined;

/**
 * Enter deep sleep for `ms` milliseconds, an integer from 1 to 0xFFFFFFFF
 * (ESP32: `esp_sleep_enable_timer_wakeup` + `esp_deep_sleep_try_to_start`,
 * which do not return; if ESP-IDF refuses either, the chip restarts and the
 * next boot's `restartCause()` is `sleep-failed`). Throws a RangeError for any
 * other `ms`. Returns `false` where deep sleep does not exist (the simulator);
 * then nothing happened.
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

/** The bytes last stored, if they survived (magic, length and CRC-32 checked), else undefined. */
export function retainedLoad(): ArrayBuffer | undefined;

/** Keep `bytes` across deep sleep and resets. Throws a RangeError beyond `retainedCapacity()`. */
export function retainedStore(bytes: ArrayBuffer): void;

/**
 * (Re)start the application watchdog: unless called again within `ms`, the
 * chip restarts and the next boot reports `watchdog`. Returns `false` where
 * there is none (debug builds, the simulator).
 */
export function watchdogArm(ms: number): boolean;

/**
 * Configure power management with automatic light sleep, the CPU between the
 * crystal's frequency and the build's default (ESP32: `esp_pm_configure`).
 * Returns ESP-IDF's name for the result and the frequencies asked for, or
 * undefined where there is no such thing (the simulator).
 */
export function configurePowerManagement(): { result: string; maxMHz: number; minMHz: number } | undefined;

/**
 * Hold the CPU at its maximum frequency (`true`) or release it (`false`):
 * with power management on, ESP-IDF runs the CPU at the APB frequency while
 * Wi-Fi is active and at the crystal's when idle, whatever the CPU has to do.
 * Returns `false` where there is no such lock (power management not
 * configured, the simulator).
 */
export function cpuBoost(on: boolean): boolean;

/**
 * 802.11 power save while associated (ESP32: `esp_wifi_set_ps`): 0 none,
 * 1 min modem, 2 max modem. Returns ESP-IDF's name for the result (`ESP_OK`,
 * or `ESP_ERR_WIFI_NOT_INIT` while the radio is off), or undefined where the
 * platform has no such setting.
 */
export function setWifiPowerSave(mode: 0 | 1 | 2): string | undefined;
