/**
 * The credential store: what a device keeps outside its firmware image, so one
 * image serves a fleet. On ESP32 it is the `nvs` partition, namespace
 * `fieldlink` (hal/moddable/native/credentials-esp32.c), written at flash time
 * by `npm run flash:esp32 -- --credentials DIR` with ESP-IDF's NVS partition
 * generator; on the Moddable simulator it is a directory of files,
 * `<deviceDir>/nvs/<name>`, written by `npm run build:sim`. Shared by the
 * device (hal/moddable) and the build tool (tools/moddable), pure data.
 */

export const STORE_PARTITION = 'nvs';
export const STORE_NAMESPACE = 'fieldlink';

/** Binary entries, the device's TLS credentials (DER), named as the files provision writes. */
export const STORE_FILES = Object.freeze(['ca.der', 'device.der', 'device.key.der'] as const);

/**
 * Text entries (UTF-8): each stands for the mc/config key of the same name and
 * wins over it (hal/moddable/main.ts). `password` is the Wi-Fi password.
 */
export const STORE_TEXT = Object.freeze(['endpoint', 'thing', 'port', 'ssid', 'password', 'staticIp', 'netmask', 'gateway', 'dns'] as const);

export type StoreName = (typeof STORE_FILES)[number] | (typeof STORE_TEXT)[number];

/** NVS keys are at most 15 bytes; the simulator's names are file names. */
export function isStoreName(name: string): boolean {
  return /^[A-Za-z0-9._-]{1,15}$/.test(name) && name !== '.' && name !== '..';
}
