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

/** What one time server answered. */
export interface TimeReading {
  /** Milliseconds since the Unix epoch, as the server said (unauthenticated: it may lie). */
  wallMs: number;
  /** The server that answered. */
  server: string;
}

/** Monotonic and wall clocks. */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin, uint32, wraps every 49.7 days. */
  now(): number;
  /**
   * Milliseconds since the Unix epoch from the RTC, or `undefined` while it has
   * never been set since power-on. The RTC keeps running through deep sleep and
   * resets; a power cut loses it. The platform applies no plausibility check:
   * the firmware decides what to trust (firmware/time).
   */
  wallTime(): number | undefined;
  /**
   * Ask one time server (SNTP, UDP 123) for the time. Does not set the clock.
   * `onDone` gets the reading or a typed failure (`wifi`, `dns`, `timeout`).
   */
  query(server: string, onDone: (result: TimeReading | LinkError) => void): void;
  /** Set the RTC; TLS checks certificate dates against it. Throws RangeError for a non-finite value. */
  setWallTime(wallMs: number): void;
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

/**
 * Why the device (re)started. Retained bytes survive every reason but
 * `power-on` (which includes brownout): ESP32 `RTC_NOINIT_ATTR` memory.
 * `reset` is a software restart (`Power.restart`, or a deep sleep that could
 * not be entered); `crash` a panic; `watchdog` a watchdog reset.
 */
export type BootReason = 'power-on' | 'deep-sleep' | 'reset' | 'crash' | 'watchdog';

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

/**
 * Which certificate check failed, for `tls-cert`, when the platform can tell:
 * `time` the chain is not valid at the device's clock (expired or not yet
 * valid: the certificate or the clock is wrong), `untrusted` no path to a
 * trusted root (or a link not signed by the next, or an issuer that is not a
 * CA), `name` the leaf does not carry the server name, `usage` a key usage or
 * extended key usage forbids this use.
 */
export type CertFailure = 'time' | 'untrusted' | 'name' | 'usage';

export interface LinkError {
  category: LinkErrorCategory;
  /** Set for `tls-cert` when the platform knows which check failed. */
  reason?: CertFailure;
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
  /**
   * Highest TLS version offered; TLS 1.2 is always the minimum. Default `1.2`.
   * A platform whose capabilities lack 1.3 offers 1.2 only.
   */
  maxVersion?: '1.2' | '1.3';
  /**
   * Offer the session kept from the last full handshake with this server (a
   * ticket or a session id, kept in retained memory across deep sleep by the
   * platform, never by firmware). Default true. A server that refuses it costs
   * one full handshake.
   */
  resume?: boolean;
  /** The handshake completed and the server's certificate and ALPN were verified. */
  onConnect(info: SecureConnectInfo): void;
  onData(bytes: Uint8Array): void;
  /** Any failure, before or after `onConnect`. The stream is closed afterwards. */
  onError(error: LinkError): void;
}

export interface SecureConnectInfo {
  /** The ALPN protocol the server selected; `undefined` only when none was offered. */
  alpn: string | undefined;
  /** The session was resumed (abbreviated handshake). */
  resumed: boolean;
  /** Negotiated version, `TLSv1.2` or `TLSv1.3`, when the platform can tell. */
  version?: string;
}

export interface WriteOptions {
  /**
   * The peer is expected to answer these bytes (an MQTT CONNECT, QoS 1 PUBLISH,
   * PINGREQ, SUBSCRIBE). A device ignores it; the simulator holds its virtual
   * clock until the answer arrived, so no layer below MQTT has to parse MQTT.
   */
  reply?: boolean;
}

/** A TLS 1.2+ byte stream with mutual authentication. Verification is never off. */
export interface SecureStream {
  /** Queue bytes; the platform copies them before returning. */
  write(bytes: Uint8Array, options?: WriteOptions): void;
  /** Close at once without a further callback (no wait for queued bytes). */
  close(): void;
  /**
   * Close gracefully: send what is queued, then TLS close_notify, and call
   * `onDone` once the bytes have left the device or after the platform's bound
   * (about 200 ms), whichever comes first. No other callback follows. After
   * `onError` it calls `onDone` on a later turn.
   */
  end(onDone: () => void): void;
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

/**
 * RTC memory owned by the firmware: survives deep sleep and every reset but a
 * power loss (see `BootReason`); at most `Hal.capabilities.retainedBytes`.
 * The platform keeps its own retained state (the TLS session) apart from it.
 */
export interface Retained {
  load(): Uint8Array | undefined;
  store(bytes: Uint8Array): void;
}

export interface Power {
  readonly bootReason: BootReason;
  /**
   * Stop the firmware and wake `ms` later with `bootReason === 'deep-sleep'`.
   * Throws RangeError, before anything is stopped, unless `ms` is an integer
   * from 1 to `capabilities.maxDeepSleepMs`. A chip that then fails to enter
   * deep sleep restarts (`bootReason === 'reset'`) rather than hang. Does not
   * return otherwise.
   */
  deepSleep(ms: number): void;
  /** Restart now (`bootReason === 'reset'`); retained bytes are kept. Does not return. */
  restart(): void;
  /** Feed the task watchdog (release builds arm it); call from the app's loop. */
  feedWatchdog(): void;
}

/** One named reading. */
export interface Sensor {
  read(): number;
}

/**
 * What a platform really does, declared as data by each HAL (hal/moddable for
 * the chip, hal/sim for the simulator) and held equal by a test: the simulator
 * credits the firmware with nothing the device cannot do, and its energy model
 * charges each operation by the capability that performs it.
 */
export interface PlatformCapabilities {
  /**
   * How a Wi-Fi join can be shortened: `scan` is a full scan plus DHCP (always
   * possible); `channel-bssid` a fast scan on the cached channel and BSSID;
   * `cached-ip` reuses the last lease (or a static IP) without DHCP.
   */
  readonly wifiJoin: readonly ('scan' | 'channel-bssid' | 'cached-ip')[];
  readonly tls: {
    readonly implementation: 'mbedtls' | 'moddable-js';
    readonly maxVersion: '1.2' | '1.3';
    readonly keyTypes: readonly ('rsa-2048' | 'ec-p256')[];
    /** Resumption the client offers. */
    readonly resumption: readonly ('session-id' | 'ticket')[];
    /** The session is kept in retained memory, so a wake from deep sleep can resume. */
    readonly resumeAfterDeepSleep: boolean;
  };
  /** `deep`: timer wake from deep sleep; `auto-light`: ESP-IDF automatic light sleep while idle. */
  readonly sleep: readonly ('deep' | 'auto-light')[];
  readonly maxDeepSleepMs: number;
  /** Bytes of `Retained` the firmware may use. */
  readonly retainedBytes: number;
  readonly timeSync: 'sntp';
  /** A task watchdog resets a stuck device (release builds). */
  readonly watchdog: boolean;
}

export interface Hal {
  readonly capabilities: PlatformCapabilities;
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
