/**
 * Re-creations of what users of other clients run, as device code for the
 * simulator (XS or Node, over the sim HAL). They share this project's MQTT codec
 * and client, so the bench compares policies, not codecs, and publish in the
 * firmware's batch schema so the same subscriber counts deliveries. Each
 * configuration names its source; tools/bench/rows.ts says which platform
 * (ESP-IDF in C, or Moddable's XS) each one is priced as.
 *
 * - `connected`: one connection kept up, samples published as they are taken
 *   (esp-mqtt, Moddable mqtt-aws). While offline, QoS 1 samples wait in a RAM
 *   outbox until they expire (esp-mqtt: CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS,
 *   30 s by default); without an outbox they are lost.
 * - `rtc-batch`: ESP-IDF deep sleep between samples; samples kept in RTC memory;
 *   once a batch is due, join, connect, publish it as one message, disconnect.
 *   A failed upload is retried at the next wake.
 * - `session-per-upload`: Wi-Fi stays associated; every upload interval a new
 *   TLS + MQTT session with backoffAlgorithm retries, publish, disconnect (the
 *   coreMQTT demos' loop), samples held in RAM.
 * - `per-sample`: wake, join, connect and publish each sample, then deep sleep.
 */
import type { AppHandle, Hal, SecureStream } from '../../../hal/types';
import { resolveConfig, type DeviceConfig } from '../../../firmware/app/config';
import { MqttClient } from '../../../firmware/mqtt/client';
import { MqttError } from '../../../firmware/mqtt/errors';
import { createBackoff, nextDelay, resetBackoff } from '../../../firmware/link/backoff';
import { toUtf8 } from '../../../firmware/util/text';
import { EVENTS } from '../../../hal/events';

export type AnchorName =
  | 'esp-mqtt' | 'esp-mqtt-outbox-1d' | 'esp-idf-deep-sleep-rtc' | 'coremqtt-demo'
  | 'moddable-mqtt-aws-reconnect' | 'moddable-mqtt-aws' | 'naive-per-sample';

type Reconnect = { kind: 'none' } | { kind: 'fixed'; ms: number } | { kind: 'jitter'; baseMs: number; capMs: number; attempts?: number };

export interface ConnectedSpec {
  shape: 'connected';
  keepAliveS: number;
  qos: 0 | 1;
  reconnect: Reconnect;
  /** RAM outbox for QoS 1 messages published while offline. */
  outbox?: { expiryMs: number; maxMessages: number };
}

export interface RtcBatchSpec {
  shape: 'rtc-batch';
  /** Bytes of RTC slow memory the app reserves for samples (12 bytes each). */
  rtcBytes: number;
  /** How long a wake waits for the upload to finish before sleeping anyway. */
  uploadTimeoutMs: number;
}

export interface SessionPerUploadSpec {
  shape: 'session-per-upload';
  reconnect: Extract<Reconnect, { kind: 'jitter' }>;
  /** Samples held in RAM between uploads. */
  maxSamples: number;
}

export interface PerSampleSpec {
  shape: 'per-sample';
  timeoutMs: number;
}

export type AnchorSpec = ConnectedSpec | RtcBatchSpec | SessionPerUploadSpec | PerSampleSpec;

/** Each configuration as its users run it; the sources are cited in tools/bench/rows.ts. */
export const ANCHOR_SPECS: Readonly<Record<AnchorName, AnchorSpec>> = Object.freeze({
  // esp-mqtt defaults: keepalive 120 s, reconnect_timeout_ms 10 s, QoS 1 outbox expiring after 30 s.
  'esp-mqtt': { shape: 'connected', keepAliveS: 120, qos: 1, reconnect: { kind: 'fixed', ms: 10_000 }, outbox: { expiryMs: 30_000, maxMessages: 500 } },
  // The same with CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS raised to a day; the outbox is RAM, about 64 KB of heap: 500 messages.
  'esp-mqtt-outbox-1d': { shape: 'connected', keepAliveS: 120, qos: 1, reconnect: { kind: 'fixed', ms: 10_000 }, outbox: { expiryMs: 86_400_000, maxMessages: 500 } },
  // ESP-IDF deep sleep + RTC_DATA_ATTR sample buffer (4 KB of the 8 KB RTC slow memory) + esp-mqtt per upload.
  'esp-idf-deep-sleep-rtc': { shape: 'rtc-batch', rtcBytes: 4096, uploadTimeoutMs: 20_000 },
  // coreMQTT mutual-auth demo: RETRY_BACKOFF_BASE_MS 500, RETRY_MAX_BACKOFF_DELAY_MS 5000, RETRY_MAX_ATTEMPTS 5.
  'coremqtt-demo': { shape: 'session-per-upload', reconnect: { kind: 'jitter', baseMs: 500, capMs: 5000, attempts: 5 }, maxSamples: 1000 },
  // Moddable examples/network/aws/mqtt-aws (timeout 60 s = keepalive, QoS 0) plus onClose -> reconnect after 5 s.
  'moddable-mqtt-aws-reconnect': { shape: 'connected', keepAliveS: 60, qos: 0, reconnect: { kind: 'fixed', ms: 5000 } },
  // The example as shipped: onClose only traces.
  'moddable-mqtt-aws': { shape: 'connected', keepAliveS: 60, qos: 0, reconnect: { kind: 'none' } },
  'naive-per-sample': { shape: 'per-sample', timeoutMs: 30_000 },
});

/** What every anchor reports through `inspect()`. */
export interface AnchorView {
  anchor: AnchorName;
  /** The next sample's sequence number (generation x 1,000,000 + samples taken since the last power-on + 1). */
  nextSeq: number;
  gaveUp: boolean;
  /** Samples the anchor itself discarded, by reason. */
  expired: number;
  overflowed: number;
  lostOffline: number;
  /** Samples still held (outbox, RTC, RAM). */
  pending: number;
}

/**
 * Bench bookkeeping, not behaviour: sample numbers must stay unique across
 * power cuts (which wipe RAM and RTC memory) for the subscriber to count
 * deliveries, so each power-on takes the next generation from a log of 4-byte
 * slots in flash block 0 (one write per power-on) and numbers its samples from
 * generation x 1,000,000.
 */
function generationBase(hal: Hal): number {
  const slots = hal.flash.blockSize / 4;
  const words = hal.flash.read(0, hal.flash.blockSize);
  let used = 0;
  while (used < slots && (words[used * 4] & words[used * 4 + 1] & words[used * 4 + 2] & words[used * 4 + 3]) !== 0xff) used++;
  if (used === slots) {
    hal.flash.erase(0);
    used = 0;
  }
  hal.flash.write(used * 4, new Uint8Array(4));
  return used * 1_000_000 + 1;
}

function samplePayload(thing: string, samples: [number, number | null, number][], dropped = 0): Uint8Array {
  const first = samples[0][0];
  const last = samples[samples.length - 1][0];
  return toUtf8(JSON.stringify({ thing, seq: [first, last], samples, dropped, fw: 'anchor' }));
}

export function anchor(hal: Hal, raw: unknown): AppHandle {
  const name = (raw as { anchor?: AnchorName }).anchor ?? 'esp-mqtt';
  const spec = ANCHOR_SPECS[name];
  const config = resolveConfig(raw);
  switch (spec.shape) {
    case 'connected': return connected(hal, config, name, spec);
    case 'rtc-batch': return rtcBatch(hal, config, name, spec);
    case 'session-per-upload': return sessionPerUpload(hal, config, name, spec);
    case 'per-sample': return perSample(hal, config, name, spec);
  }
}

function openStream(hal: Hal, config: DeviceConfig, events: { onConnect(s: SecureStream): void; onData(b: Uint8Array): void; onError(started: boolean, e: Parameters<Parameters<Hal['network']['openSecure']>[0]['onError']>[0]): void }): SecureStream {
  let started = false;
  const s: SecureStream = hal.network.openSecure({
    host: config.endpoint, port: config.port, serverName: config.serverName, alpn: config.alpn, credentials: config.credentials,
    timeoutMs: 10_000,
    onConnect: () => { started = true; events.onConnect(s); },
    onData: (bytes) => events.onData(bytes),
    onError: (error) => events.onError(started, error),
  });
  return s;
}

/** SNTP as the anchors' SDKs do it: one server, take its answer, carry on either way. */
function syncClock(hal: Hal, then: () => void): void {
  if (hal.clock.wallTime() !== undefined) return then();
  hal.clock.query('pool.ntp.org', (result) => {
    if (!('category' in result)) hal.clock.setWallTime(result.wallMs);
    then();
  });
}

// ------------------------------------------------------------------ connected

/**
 * esp-mqtt's model: every QoS 1 message waits in the outbox from publish to
 * PUBACK (sent at once when connected, again on every reconnect), and is
 * deleted once older than the expiry. A new client per connection, so the
 * outbox is the only memory of unacknowledged messages, as in esp-mqtt.
 */
function connected(hal: Hal, config: DeviceConfig, name: AnchorName, spec: ConnectedSpec): AppHandle {
  let seq = generationBase(hal);
  let wifiUp = false;
  let joining = false;
  let stream: SecureStream | undefined;
  let client: MqttClient | undefined;
  let gaveUp = false;
  const view = { expired: 0, overflowed: 0, lostOffline: 0 };
  const outbox: { sample: [number, number | null, number]; at: number; packetId?: number }[] = [];
  const backoff = spec.reconnect.kind === 'jitter' ? createBackoff({ baseMs: spec.reconnect.baseMs, capMs: spec.reconnect.capMs, floorMs: 0 }) : undefined;

  function drop(reason: 'expired' | 'overflow'): void {
    outbox.shift();
    if (reason === 'expired') view.expired++;
    else view.overflowed++;
    hal.log.event(EVENTS.anchorDropped, { anchor: name, reason });
  }

  function expire(): void {
    if (!spec.outbox) return;
    const now = hal.clock.now();
    while (outbox.length && ((now - outbox[0].at) >>> 0) > spec.outbox.expiryMs) drop('expired');
  }

  /** Send what waits in the outbox and is not in flight on this connection, as far as the in-flight window allows. */
  function flush(): void {
    expire();
    for (const entry of outbox) {
      if (!client?.connected) return;
      if (entry.packetId !== undefined) continue;
      const sent = client.publish(config.topic, samplePayload(config.thing, [entry.sample]), 1);
      if (sent instanceof MqttError) return;
      entry.packetId = sent.packetId;
    }
  }

  function retry(): void {
    const r = spec.reconnect;
    if (r.kind === 'none') {
      gaveUp = true;
      hal.log.event(EVENTS.anchorGaveUp, { anchor: name });
      return;
    }
    hal.timers.set(connect, r.kind === 'fixed' ? r.ms : nextDelay(backoff!, hal.entropy.random32()));
  }

  function connect(): void {
    if (!wifiUp) return joinWifi();
    if (stream) return;
    const c = new MqttClient(
      { clock: hal.clock, timers: hal.timers, log: hal.log, profile: config.profile, clientId: config.thing, keepAliveS: spec.keepAliveS, cleanSession: true },
      {
        onConnected: () => {
          if (backoff) resetBackoff(backoff);
          flush();
        },
        onAcked: (packetId) => {
          const i = outbox.findIndex((e) => e.packetId === packetId);
          if (i >= 0) outbox.splice(i, 1);
          flush();
        },
        onClosed: () => {
          for (const e of outbox) e.packetId = undefined;
          stream = undefined;
          client = undefined;
          retry();
        },
      },
    );
    client = c;
    const s = openStream(hal, config, {
      onConnect: (st) => { if (stream === st) c.start(st); },
      onData: (bytes) => { if (stream === s) c.receive(bytes); },
      onError: (started, error) => {
        if (stream !== s) return;
        if (started) return c.streamFailed(error);
        stream = undefined;
        client = undefined;
        retry();
      },
    });
    stream = s;
  }

  function joinWifi(): void {
    if (joining || wifiUp) return;
    joining = true;
    hal.wifi.join({
      onJoined: () => {
        joining = false;
        wifiUp = true;
        syncClock(hal, connect);
      },
      // ESP-IDF's protocol_examples_common and Moddable's network setup retry the association on their own.
      onError: () => {
        joining = false;
        hal.timers.set(joinWifi, 1000);
      },
      onLost: (error) => {
        wifiUp = false;
        const s = stream;
        const c = client;
        s?.close();
        if (c?.connected) c.streamFailed(error);
        stream = undefined;
        if (!gaveUp) hal.timers.set(joinWifi, 0);
      },
    });
  }

  function sample(): void {
    const s: [number, number | null, number] = [seq++, hal.clock.wallTime() ?? null, hal.sensor.read()];
    if (spec.qos === 1 && spec.outbox) {
      expire();
      if (outbox.length >= spec.outbox.maxMessages) drop('overflow');
      outbox.push({ sample: s, at: hal.clock.now() });
      flush();
    } else if (!client?.connected || client.publish(config.topic, samplePayload(config.thing, [s]), spec.qos) instanceof MqttError) {
      view.lostOffline++;
    }
    hal.timers.set(sample, config.sampleIntervalMs);
  }

  joinWifi();
  hal.timers.set(sample, 0);
  return { inspect: (): AnchorView => ({ anchor: name, nextSeq: seq, gaveUp, ...view, pending: outbox.length }) };
}

// ------------------------------------------------------------------ rtc-batch

/**
 * RTC layout: u32 next seq, u32 dropped not yet reported, u32 dropped in
 * total, u32 samples held, f64 epoch, then 12 bytes a sample (u32 seq, f32
 * seconds since the epoch, f32 value); what a C app would put in an
 * RTC_DATA_ATTR struct.
 */
function rtcBatch(hal: Hal, config: DeviceConfig, name: AnchorName, spec: RtcBatchSpec): AppHandle {
  const HEADER = 24;
  const capacity = Math.floor((spec.rtcBytes - HEADER) / 12);
  const saved = hal.retained.load();
  let next = 1;
  let dropped = 0;
  let droppedTotal = 0;
  let epoch = 0;
  let samples: [number, number | null, number][] = [];
  if (saved && saved.length >= HEADER) {
    const v = new DataView(saved.buffer, saved.byteOffset, saved.byteLength);
    next = v.getUint32(0, true);
    dropped = v.getUint32(4, true);
    droppedTotal = v.getUint32(8, true);
    const held = v.getUint32(12, true);
    epoch = v.getFloat64(16, true);
    for (let i = 0; i < held; i++) {
      const o = HEADER + i * 12;
      const t = v.getFloat32(o + 4, true);
      samples.push([v.getUint32(o, true), Number.isNaN(t) ? null : Math.round(epoch + t * 1000), Math.round(v.getFloat32(o + 8, true) * 100) / 100]);
    }
  }
  if (!saved) next = generationBase(hal);
  const boot = hal.clock.now();
  const wall = hal.clock.wallTime();
  if (!samples.length && wall !== undefined) epoch = wall;
  samples.push([next++, wall ?? null, hal.sensor.read()]);
  if (samples.length > capacity) {
    samples.shift();
    dropped++;
    droppedTotal++;
    hal.log.event(EVENTS.anchorDropped, { anchor: name, reason: 'overflow' });
  }
  const store = () => {
    const bytes = new Uint8Array(HEADER + samples.length * 12);
    const v = new DataView(bytes.buffer);
    v.setUint32(0, next, true);
    v.setUint32(4, dropped, true);
    v.setUint32(8, droppedTotal, true);
    v.setUint32(12, samples.length, true);
    v.setFloat64(16, epoch, true);
    samples.forEach(([s, t, value], i) => {
      const o = HEADER + i * 12;
      v.setUint32(o, s, true);
      v.setFloat32(o + 4, t === null ? NaN : (t - epoch) / 1000, true);
      v.setFloat32(o + 8, value, true);
    });
    hal.retained.store(bytes);
  };
  let done = false;
  const sleep = () => {
    if (done) return;
    done = true;
    store();
    hal.wifi.leave();
    hal.power.deepSleep(Math.max(1, config.sampleIntervalMs - ((hal.clock.now() - boot) >>> 0)));
  };
  // A batch is due once an upload interval's samples are in, or the RTC buffer is full.
  const due = samples.length >= Math.min(capacity, Math.max(1, Math.round(config.uploadIntervalMs / config.sampleIntervalMs)));
  if (!due) {
    sleep();
  } else {
    const batch = samples.slice(0, 150);
    const client = new MqttClient(
      { clock: hal.clock, timers: hal.timers, log: hal.log, profile: config.profile, clientId: config.thing, keepAliveS: 120, cleanSession: true },
      {
        onConnected: () => {
          if (client.publish(config.topic, samplePayload(config.thing, batch, dropped), 1) instanceof MqttError) sleep();
        },
        onAcked: () => {
          samples = samples.slice(batch.length);
          dropped = 0;
          if (samples.length === 0) epoch = hal.clock.wallTime() ?? epoch;
          client.disconnect();
          sleep();
        },
        onClosed: () => sleep(),
      },
    );
    hal.wifi.join({
      onJoined: () => syncClock(hal, () => {
        openStream(hal, config, {
          onConnect: (s) => client.start(s),
          onData: (bytes) => client.receive(bytes),
          onError: (started, error) => (started ? client.streamFailed(error) : sleep()),
        });
      }),
      onError: () => sleep(),
      onLost: () => sleep(),
    });
    hal.timers.set(sleep, spec.uploadTimeoutMs);
  }
  return { inspect: (): AnchorView => ({ anchor: name, nextSeq: next, gaveUp: false, expired: 0, overflowed: droppedTotal, lostOffline: 0, pending: samples.length }) };
}

// ------------------------------------------------------------------ session-per-upload

function sessionPerUpload(hal: Hal, config: DeviceConfig, name: AnchorName, spec: SessionPerUploadSpec): AppHandle {
  let seq = generationBase(hal);
  let wifiUp = false;
  let busy = false;
  const view = { expired: 0, overflowed: 0, lostOffline: 0 };
  let held: [number, number | null, number][] = [];
  const backoff = createBackoff({ baseMs: spec.reconnect.baseMs, capMs: spec.reconnect.capMs, floorMs: 0 });
  // An upload once an interval's samples are in, or the RAM buffer is full.
  const perUpload = Math.min(spec.maxSamples, Math.max(1, Math.round(config.uploadIntervalMs / config.sampleIntervalMs)));

  function joinWifi(): void {
    hal.wifi.join({
      onJoined: () => { wifiUp = true; syncClock(hal, () => undefined); },
      onError: () => hal.timers.set(joinWifi, 1000),
      onLost: () => { wifiUp = false; hal.timers.set(joinWifi, 0); },
    });
  }

  /** One demo iteration: connect with up to `attempts` tries, publish every held sample, disconnect. */
  function upload(): void {
    if (busy || held.length === 0 || !wifiUp) return;
    busy = true;
    resetBackoff(backoff);
    let attempt = 0;
    const batch = held.slice();
    let acked = 0;
    let sent = 0;
    const finish = () => { busy = false; };
    // Publish as the in-flight window allows (AWS: 100 QoS 1 messages), one more per PUBACK.
    const pump = () => {
      while (sent < batch.length && !(client.publish(config.topic, samplePayload(config.thing, [batch[sent]]), 1) instanceof MqttError)) sent++;
    };
    const client = new MqttClient(
      { clock: hal.clock, timers: hal.timers, log: hal.log, profile: config.profile, clientId: config.thing, keepAliveS: 60, cleanSession: true },
      {
        onConnected: pump,
        onAcked: () => {
          acked++;
          if (acked === batch.length) {
            held = held.slice(batch.length);
            client.disconnect();
          } else {
            pump();
          }
        },
        onClosed: () => finish(),
      },
    );
    const tryConnect = () => {
      attempt++;
      openStream(hal, config, {
        onConnect: (s) => client.start(s),
        onData: (bytes) => client.receive(bytes),
        onError: (started, error) => {
          if (started) return client.streamFailed(error);
          if (attempt >= (spec.reconnect.attempts ?? 5) || !wifiUp) return finish();
          hal.timers.set(tryConnect, nextDelay(backoff, hal.entropy.random32()));
        },
      });
    };
    tryConnect();
  }

  function sample(): void {
    held.push([seq++, hal.clock.wallTime() ?? null, hal.sensor.read()]);
    if (held.length > spec.maxSamples) {
      held.shift();
      view.overflowed++;
      hal.log.event(EVENTS.anchorDropped, { anchor: name, reason: 'overflow' });
    }
    if (held.length >= perUpload) upload();
    hal.timers.set(sample, config.sampleIntervalMs);
  }

  joinWifi();
  hal.timers.set(sample, 0);
  return { inspect: (): AnchorView => ({ anchor: name, nextSeq: seq, gaveUp: false, ...view, pending: held.length }) };
}

// ------------------------------------------------------------------ per-sample

/** RTC memory holds only the next seq (a naive device at least numbers its samples). */
function perSample(hal: Hal, config: DeviceConfig, name: AnchorName, spec: PerSampleSpec): AppHandle {
  const saved = hal.retained.load();
  const seq = saved && saved.length === 4 ? new DataView(saved.buffer, saved.byteOffset, 4).getUint32(0, true) : generationBase(hal);
  const boot = hal.clock.now();
  let done = false;
  const s: [number, number | null, number] = [seq, hal.clock.wallTime() ?? null, hal.sensor.read()];
  const sleep = () => {
    if (done) return;
    done = true;
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, seq + 1, true);
    hal.retained.store(bytes);
    hal.wifi.leave();
    hal.power.deepSleep(Math.max(1, config.sampleIntervalMs - ((hal.clock.now() - boot) >>> 0)));
  };
  const client = new MqttClient(
    { clock: hal.clock, timers: hal.timers, log: hal.log, profile: config.profile, clientId: config.thing, keepAliveS: 60, cleanSession: true },
    {
      onConnected: () => {
        if (client.publish(config.topic, samplePayload(config.thing, [s]), 1) instanceof MqttError) sleep();
      },
      onAcked: () => {
        client.disconnect();
        sleep();
      },
      onClosed: () => sleep(),
    },
  );
  hal.wifi.join({
    onJoined: () => syncClock(hal, () => {
      openStream(hal, config, {
        onConnect: (st) => client.start(st),
        onData: (bytes) => client.receive(bytes),
        onError: (started, error) => (started ? client.streamFailed(error) : sleep()),
      });
    }),
    onError: () => sleep(),
    onLost: () => sleep(),
  });
  hal.timers.set(sleep, spec.timeoutMs);
  return { inspect: (): AnchorView => ({ anchor: name, nextSeq: seq + 1, gaveUp: false, expired: 0, overflowed: 0, lostOffline: 0, pending: 0 }) };
}
