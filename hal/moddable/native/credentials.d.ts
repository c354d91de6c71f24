/**
 * The credential store (hal/moddable/store-layout.ts): module
 * `hal/moddable/native/credentials`.
 *
 * Implementations (hal/moddable/native/manifest.json):
 * - `credentials-esp32.js` + `credentials-esp32.c`: NVS, partition `nvs`,
 *   namespace `fieldlink`, every entry a blob.
 * - `credentials-sim.ts` (mac, lin, win): files `<deviceDir>/nvs/<name>` on
 *   the host, `deviceDir` from mc/config (npm run build:sim sets it).
 */

/** The entry's bytes, or undefined when the store has no such entry (or no store exists). Throws on a bad name. */
export function read(name: string): ArrayBuffer | undefined;

/** Where the store is, for the log: `nvs`, `host <dir>`, or `none`. */
export function where(): string;
