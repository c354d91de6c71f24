/**
 * What the link needs to know, and nothing of the application's: the app's
 * DeviceConfig is a superset, so `link/` never imports `app/`.
 */
import type { TlsCredentials } from '../../hal/types';
import type { ProfileName } from '../mqtt/profile';

export interface LinkConfig {
  /** MQTT client id and AWS thing name. */
  thing: string;
  endpoint: string;
  port: number;
  /** SNI name. */
  serverName: string;
  /** ALPN offered. */
  alpn: string[];
  profile: ProfileName;
  credentials: TlsCredentials;
  /** Overrides of the network reconnect schedule (`DEFAULT_POLICY.network` in link/decide.ts). */
  backoff: { baseMs?: number; capMs?: number; jitter?: 'full' | 'none' };
}
