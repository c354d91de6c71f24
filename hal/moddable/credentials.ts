/**
 * Where the Moddable HAL reads device credentials by name: today the DER
 * resources manifests/tls.json embeds (`ca.der`, `device.der`,
 * `device.key.der`, and the Amazon roots). Every TLS credential goes through
 * here, so an implementation over an NVS partition (one image per fleet) only
 * replaces this module.
 */
import Resource from 'Resource';

/**
 * The named credential's bytes (a copy the caller may overwrite when done), or
 * `undefined` when it is not there.
 */
export function readCredential(name: string): ArrayBuffer | undefined {
  if (!Resource.exists(name)) return undefined;
  const resource = new Resource(name);
  return resource.slice(0, resource.byteLength);
}
