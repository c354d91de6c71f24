/**
 * `hal/moddable/native/credentials` on the Moddable simulator: the credential
 * store as files on the host, `<deviceDir>/nvs/<name>` (mc/config `deviceDir`,
 * which npm run build:sim sets and fills from --credentials, as flashing the
 * NVS partition does on a board). Contract: credentials.d.ts.
 */
import config from 'mc/config';
import { File } from 'file';
import { isStoreName } from '../store-layout';
import type * as Credentials from './credentials';

function directory(): string | undefined {
  const dir = (config as Record<string, unknown>).deviceDir;
  return typeof dir === 'string' && dir.length > 0 ? `${dir}/nvs` : undefined;
}

export const read: typeof Credentials.read = (name) => {
  if (!isStoreName(name)) throw new RangeError(`credentials: "${name}" is not a store name`);
  const dir = directory();
  if (!dir) return undefined;
  const path = `${dir}/${name}`;
  if (!File.exists(path)) return undefined;
  const file = new File(path);
  try {
    return file.length ? file.read(ArrayBuffer) : new ArrayBuffer(0);
  } finally {
    file.close();
  }
};

export const where: typeof Credentials.where = () => {
  const dir = directory();
  return dir ? `host ${dir}` : 'none';
};
