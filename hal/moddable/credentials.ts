/**
 * Where the Moddable HAL reads device credentials by name; every TLS
 * credential goes through here (hal/moddable/secure-stream.ts).
 *
 * The device's credential store wins (hal/moddable/store-layout.ts: NVS on
 * ESP32, files on mcsim, written per device at flash or build time, so one
 * image serves a fleet); then the image's DER resources (manifests/tls.json:
 * `ca.der`, `device.der`, `device.key.der`, and the Amazon roots).
 */
import Resource from 'Resource';
import { read as readStore } from './native/credentials';
import { isStoreName } from './store-layout';

/**
 * The named credential's bytes (a copy the caller may overwrite when done), or
 * `undefined` when neither the store nor the image has it.
 */
export function readCredential(name: string): ArrayBuffer | undefined {
  const stored = isStoreName(name) ? readStore(name) : undefined;
  if (stored) return stored;
  if (!Resource.exists(name)) return undefined;
  const resource = new Resource(name);
  return resource.slice(0, resource.byteLength);
}
