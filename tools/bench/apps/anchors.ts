/**
 * Re-creations of how the clients a user would otherwise pick behave, run by
 * the same simulator as the firmware (device code: it runs in XS or Node with
 * the sim HAL). They share this project's MQTT codec and client, so the bench
 * compares policies, not codecs. Each publishes one sample per PUBLISH in the
 * firmware's batch schema so the same subscriber counts deliveries.
 *
 * - `moddable-mqtt-aws`: Moddable's examples/network/aws/mqtt-aws pattern:
 *   connect once, keepalive 60 s, publish on a timer, no reconnect logic (a
 *   dropped connection stays dropped; Wi-Fi stays associated).
 * - `esp-mqtt`: ESP-IDF esp-mqtt defaults: keepalive 120 s, reconnect every
 *   10 s (`reconnect_timeout_ms`), Wi-Fi rejoined at once on loss (the ESP-IDF
 *   station example's event handler), QoS 1 outbox in RAM.
 * - `coremqtt-demo`: the FreeRTOS coreMQTT demo pattern: backoffAlgorithm full
 *   jitter, base 500 ms, cap 5 s; keepalive 60 s; QoS 1.
 * - `naive-duty`: wake, join, handshake and publish once per sample, then deep
 *   sleep; a sample whose publish fails is gone.
 * None keeps unsent samples across a failure: a sample taken while offline is lost.
 * All run with ESP-IDF's default Wi-Fi power save (modem sleep) and no automatic light sleep.
 */
import type { AppHandle, Hal, SecureStream } from '../../../hal/types';
import { resolveConfig } from '../../../firmware/app/config';
import { MqttClient } from '../../../firmware/mqtt/client';
import { MqttError } from '../../../firmware/mqtt/errors';
import { createBackoff, nextDelay, resetBackoff } from '../../../firmware/link/backoff';
import { fromUtf8, toUtf8 } from '../../../firmware/util/text';

export type AnchorName = 'moddable-mqtt-aws' | 'esp-mqtt' | 'coremqtt-demo' | 'naive-duty';

interface AnchorPolicy {
  keepAliveS: number;
  qos: 0 | 1;
  reconnect: { kind: 'none' } | { kind: 'fixed'; ms: number } | { kind: 'jitter'; baseMs: number; capMs: number };
}

const POLICIES: Record<Exclude<AnchorName, 'naive-duty'>, AnchorPolicy> = {
  'moddable-mqtt-aws': { keepAliveS: 60, qos: 0, reconnect: { kind: 'none' } },
  'esp-mqtt': { keepAliveS: 120, qos: 1, reconnect: { kind: 'fixed', ms: 10_000 } },
  'coremqtt-demo': { keepAliveS: 60, qos: 1, reconnect: { kind: 'jitter', baseMs: 500, capMs: 5000 } },
};

function payload(thing: string, seq: number, t: number | null, v: number): Uint8Array {
  return toUtf8(JSON.stringify({ thing, seq: [seq, seq], samples: [[seq, t, v]], dropped: 0, fw: 'anchor' }));
}

export function anchor(hal: Hal, raw: unknown): AppHandle {
  const name = (raw as { anchor?: AnchorName }).anchor ?? 'esp-mqtt';
  return name === 'naive-duty' ? naiveDuty(hal, raw) : alwaysConnected(hal, raw, name, POLICIES[name]);
}

function alwaysConnected(hal: Hal, raw: unknown, name: string, policy: AnchorPolicy): AppHandle {
  const config = resolveConfig(raw);
  let seq = 1;
  let wifiUp = false;
  let stream: SecureStream | undefined;
  let gaveUp = false;
  const counters = { sampled: 0, published: 0, lostOffline: 0, connects: 0 };
  const backoff = policy.reconnect.kind === 'jitter'
    ? createBackoff({ baseMs: policy.reconnect.baseMs, capMs: policy.reconnect.capMs, floorMs: 0 })
    : undefined;

  const client = new MqttClient(
    { clock: hal.clock, timers: hal.timers, log: hal.log, profile: config.profile, clientId: config.thing, keepAliveS: policy.keepAliveS, cleanSession: true },
    {
      onConnected: () => { if (backoff) resetBackoff(backoff); },
      onClosed: () => {
        stream = undefined;
        retry();
      },
    },
  );

  function retry(): void {
    const r = policy.reconnect;
    if (r.kind === 'none') {
      gaveUp = true;
      hal.log.event('anchor.gave-up', { anchor: name });
      return;
    }
    const delay = r.kind === 'fixed' ? r.ms : nextDelay(backoff!, hal.entropy.random32());
    hal.timers.set(connect, delay);
  }

  function connect(): void {
    if (!wifiUp) return joinWifi();
    counters.connects++;
    let started = false;
    const s = hal.network.openSecure({
      host: config.endpoint, port: config.port, serverName: config.serverName, alpn: config.alpn, credentials: config.credentials,
      timeoutMs: 10_000,
      onConnect: () => {
        if (stream !== s) return;
        started = true;
        client.start(s);
      },
      onData: (bytes) => { if (stream === s) client.receive(bytes); },
      onError: (error) => {
        if (stream !== s) return;
        stream = undefined;
        if (started) client.streamFailed(error);
        else retry();
      },
    });
    stream = s;
  }

  function joinWifi(): void {
    hal.wifi.join({
      onJoined: () => {
        wifiUp = true;
        if (hal.clock.wallTime() === undefined) syncClock(hal, () => connect());
        else connect();
      },
      // The ESP-IDF station example retries association at once, forever.
      onError: () => hal.timers.set(joinWifi, 1000),
      onLost: (error) => {
        wifiUp = false;
        const s = stream;
        stream = undefined;
        s?.close();
        if (client.connected) client.streamFailed(error);
        if (!gaveUp) hal.timers.set(joinWifi, 0);
      },
    });
  }

  function sample(): void {
    const v = hal.sensor.read();
    const t = hal.clock.wallTime() ?? null;
    counters.sampled++;
    const result = client.connected ? client.publish(config.topic, payload(config.thing, seq, t, v), policy.qos) : undefined;
    if (result === undefined || result instanceof MqttError) counters.lostOffline++;
    else counters.published++;
    seq++;
    hal.timers.set(sample, config.sampleIntervalMs);
  }

  joinWifi();
  hal.timers.set(sample, 0);
  return { inspect: () => ({ anchor: name, nextSeq: seq, gaveUp, ...counters }) };
}

/** RTC memory: the next seq (a naive device at least numbers its samples). */
function naiveDuty(hal: Hal, raw: unknown): AppHandle {
  const config = resolveConfig(raw);
  const saved = hal.retained.load();
  const seq = saved ? Number(fromUtf8(saved)) || 1 : 1;
  const boot = hal.clock.now();
  let done = false;
  const v = hal.sensor.read();
  const t = hal.clock.wallTime() ?? null;
  const sleep = (outcome: string) => {
    if (done) return;
    done = true;
    hal.retained.store(toUtf8(String(seq + 1)));
    hal.log.event('anchor.wake', { outcome });
    const awake = (hal.clock.now() - boot) >>> 0;
    hal.wifi.leave();
    hal.power.deepSleep(Math.max(0, config.sampleIntervalMs - awake));
  };
  const client = new MqttClient(
    { clock: hal.clock, timers: hal.timers, log: hal.log, profile: config.profile, clientId: config.thing, keepAliveS: 60, cleanSession: true },
    {
      onConnected: () => {
        const r = client.publish(config.topic, payload(config.thing, seq, t, v), 1);
        if (r instanceof MqttError) sleep('publish-refused');
      },
      onAcked: () => {
        client.disconnect();
        sleep('delivered');
      },
      onClosed: () => sleep('lost'),
    },
  );
  hal.wifi.join({
    onJoined: () => {
      const open = () => {
        const s = hal.network.openSecure({
          host: config.endpoint, port: config.port, serverName: config.serverName, alpn: config.alpn, credentials: config.credentials,
          timeoutMs: 10_000,
          onConnect: () => client.start(s),
          onData: (bytes) => client.receive(bytes),
          onError: (error) => (client.connected ? client.streamFailed(error) : sleep('lost')),
        });
      };
      if (hal.clock.wallTime() === undefined) syncClock(hal, open);
      else open();
    },
    onError: () => sleep('no-wifi'),
    onLost: () => sleep('no-wifi'),
  });
  hal.timers.set(() => sleep('timeout'), 30_000);
  return { inspect: () => ({ anchor: 'naive-duty', nextSeq: seq + 1 }) };
}

/** SNTP as the anchors' SDKs do it: one server, take its answer, carry on either way. */
function syncClock(hal: Hal, then: () => void): void {
  hal.clock.query('pool.ntp.org', (result) => {
    if (!('category' in result)) hal.clock.setWallTime(result.wallMs);
    then();
  });
}
