/**
 * The hardware abstraction every platform implements: `hal/sim` (the desktop
 * simulator, over the host bridge) and `hal/moddable` (Moddable modules on ESP32
 * and the Moddable simulator). Firmware receives a `Hal` at boot and never
 * imports a platform module, the way coreMQTT receives its transport and clock.
 *
 * Contracts common to every member:
 * - Time is milliseconds as an unsigned 32-bit tick that wraps; compare ticks
 *   only with `elapsed()` from firmware/util/time.
 * - Callbacks run on the firmware's single thread, never re-entrantly from inside
 *   the call that scheduled them.
 * - Failures that come from the outside world arrive as a typed `LinkError` in an
 *   `onError` callback; misuse (bad arguments, use after close) throws.
 */

/** Monotonic and wall clocks. */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin, uint32, wraps every 49.7 days. */
  now(): number;
  /** Milliseconds since the Unix epoch, or `undefined` until the clock has been synced. */
  wallTime(): number | undefined;
  /** Set the wall clock from the network (SNTP); TLS checks certificate dates against it. */
  sync(onDone: (error: LinkError | undefined) => void): void;
}

export type TimerId = number;

/** One-shot timers. A cleared or fired id is never reused while the firmware runs. */
export interface Timers {
  set(callback: () => void, delayMs: number): TimerId;
  clear(id: TimerId): void;
}

/** Hardware entropy. In the simulator it is a seeded generator (`--seed`). */
export interface Entropy {
  /** A uniformly distributed unsigned 32-bit integer. */
  random32(): number;
}

export type LogValue = string | number | boolean | null;

/**
 * Structured log: `event` is a dotted name (`link.transition`), `fields` small
 * scalars. The simulator records every call; on a device it goes to the console.
 * Never pass secrets (private keys, passwords) as fields.
 */
export interface Log {
  event(event: string, fields?: Record<string, LogValue>): void;
}

/** Why the device (re)started. */
export type BootReason = 'power-on' | 'deep-sleep' | 'crash' | 'watchdog';

/**
 * Typed failure categories of the link below MQTT. The link supervisor
 * classifies by these, never by message text.
 */
export type LinkErrorCategory =
  | 'wifi'            // association or DHCP failed, or the AP went away
  | 'dns'             // the endpoint name did not resolve
  | 'tcp'             // TCP connect refused or reset
  | 'timeout'         // connect, handshake or read deadline passed
  | 'tls-handshake'   // handshake failed for a reason that is not the certificates
  | 'tls-cert'        // we rejected the server's certificate (CA, name, dates)
  | 'tls-alert'       // the server rejected us (client certificate, protocol)
  | 'alpn'            // ALPN was required and the server did not select it
  | 'closed';         // the peer closed an established stream

export interface LinkError {
  category: LinkErrorCategory;
  /** One line for humans; never contains key material. */
  message: string;
}

/** Hints that let a later join skip the scan and DHCP (ESP-IDF fast connect). */
export interface WifiHint {
  channel: number;
  bssid: string;
  ip?: string;
}

export interface WifiJoinOptions {
  /** Cached hint from the last good join; the platform may ignore it. */
  hint?: WifiHint;
  onJoined(hint: WifiHint): void;
  onError(error: LinkError): void;
  /** The association was lost after `onJoined`. */
  onLost(error: LinkError): void;
}

export type WifiPowerSave = 'none' | 'min-modem' | 'max-modem';

/** The station interface. `join` powers the radio on; `leave` powers it off. */
export interface Wifi {
  join(options: WifiJoinOptions): void;
  leave(): void;
  /** 802.11 power save while associated (ESP-IDF `esp_wifi_set_ps`). */
  setPowerSave(mode: WifiPowerSave): void;
}

/**
 * Credentials are named, not passed as bytes: the platform resolves them (DER
 * resources on Moddable, files in the simulator), so private keys never travel
 * through firmware code or logs.
 */
export interface TlsCredentials {
  /** Trusted root(s) for the server chain. */
  ca: string;
  /** Device certificate (chain). */
  certificate: string;
  /** Device private key. */
  key: string;
}

export interface SecureStreamOptions {
  host: string;
  /** Default 443. */
  port: number;
  /** SNI; always sent. */
  serverName: string;
  /** ALPN protocols offered; when non-empty, the server must select one of them. */
  alpn: string[];
  credentials: TlsCredentials;
  /** Connect plus handshake deadline. */
  timeoutMs: number;
  /** The handshake completed and the server's certificate and ALPN were verified. */
  onConnect(info: { alpn: string | undefined; resumed: boolean }): void;
  onData(bytes: Uint8Array): void;
  /** Any failure, before or after `onConnect`. The stream is closed afterwards. */
  onError(error: LinkError): void;
}

/** A TLS 1.2+ byte stream with mutual authentication. Verification is never off. */
export interface SecureStream {
  /** Queue bytes; the platform copies them before returning. */
  write(bytes: Uint8Array): void;
  /** Close without a further callback. */
  close(): void;
}

export interface Network {
  openSecure(options: SecureStreamOptions): SecureStream;
}

/**
 * NOR flash region, modelled on Moddable's `flash` module: erase sets a block to
 * 0xFF, write can only clear bits. A power cut during `write` may leave any
 * prefix of the bytes written (a torn write).
 */
export interface Flash {
  readonly byteLength: number;
  readonly blockSize: number;
  read(offset: number, byteLength: number): Uint8Array;
  write(offset: number, bytes: Uint8Array): void;
  erase(block: number): void;
}

/** RTC memory: survives deep sleep, lost on power cut. */
export interface Retained {
  load(): Uint8Array | undefined;
  store(bytes: Uint8Array): void;
}

export interface Power {
  readonly bootReason: BootReason;
  /** Stop the firmware and wake `ms` later with `bootReason === 'deep-sleep'`. Does not return. */
  deepSleep(ms: number): void;
}

/** One named reading. */
export interface Sensor {
  read(): number;
}

export interface Hal {
  clock: Clock;
  timers: Timers;
  entropy: Entropy;
  log: Log;
  wifi: Wifi;
  network: Network;
  flash: Flash;
  retained: Retained;
  power: Power;
  sensor: Sensor;
}

/** What a firmware entry point returns; `inspect` feeds tests and reports. */
export interface AppHandle {
  inspect?(): unknown;
}

/** A firmware entry point: called once per boot. */
export type App = (hal: Hal, config: unknown) => AppHandle | void;
