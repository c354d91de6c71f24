/**
 * The rows of `npm run bench`: this firmware ("adaptive") and re-creations of
 * what users of other clients run, each configured as its users would, priced
 * as the platform it runs on (this project's XS firmware on hal/moddable, or a
 * C app on ESP-IDF), and citing where its configuration comes from.
 */
import type { App, PlatformCapabilities } from '../../hal/types';
import { main as firmware } from '../../firmware/app/main';
import { MODDABLE_PLATFORM, type Platform } from '../../test-sim/energy/costs';
import { anchor, type AnchorName } from './apps/anchors';

/**
 * A C app on ESP-IDF as its examples configure it: esp_wifi_connect with the
 * SSID only (a scan, then DHCP), esp-tls on mbedTLS with the RSA-2048 device key
 * AWS issues, no session tickets (CONFIG_ESP_TLS_CLIENT_SESSION_TICKETS is off
 * by default), deep sleep and automatic light sleep available, 8 KB of RTC slow
 * memory.
 */
export const ESP_IDF_PLATFORM: Platform = Object.freeze({
  name: 'esp-idf',
  runtime: 'native',
  capabilities: Object.freeze({
    wifiJoin: Object.freeze(['scan'] as const),
    tls: Object.freeze({
      implementation: 'mbedtls' as const,
      maxVersion: '1.2' as const,
      keyTypes: Object.freeze(['rsa-2048'] as const),
      resumption: Object.freeze([] as const),
      resumeAfterDeepSleep: false,
    }),
    sleep: Object.freeze(['deep', 'auto-light'] as const),
    maxDeepSleepMs: 0xffffffff,
    retainedBytes: 8192,
    timeSync: 'sntp' as const,
    watchdog: true,
  }) satisfies PlatformCapabilities,
});

export interface Row {
  name: string;
  /** What the row re-creates, in a user's words. */
  recreates: string;
  /** Where its configuration comes from. */
  sources: string[];
  app: { module: string; exportName: string; fn: App };
  config: Record<string, unknown>;
  platform: Platform;
  /** The build enables ESP-IDF automatic light sleep. */
  autoLightSleep: boolean;
  /** `stops`: the row is reported by when it stopped delivering, not by a mJ figure. */
  report: 'energy' | 'stops';
}

const FIRMWARE = { module: 'firmware/app/main.ts', exportName: 'main', fn: firmware as App };
const ANCHORS = { module: 'tools/bench/apps/anchors.ts', exportName: 'anchor', fn: anchor as App };

const anchorRow = (name: AnchorName, platform: Platform, autoLightSleep: boolean, recreates: string, sources: string[], report: Row['report'] = 'energy'): Row => ({
  name, recreates, sources, app: ANCHORS, config: { anchor: name }, platform, autoLightSleep, report,
});

const ESP_MQTT_DOC = 'ESP-IDF docs, api-reference/protocols/mqtt.rst ("MQTT Message Retransmission"); esp-mqtt include/mqtt_config.h: MQTT_KEEPALIVE_TICK 120, MQTT_RECONNECT_TIMEOUT_MS 10000';
const LIGHT_SLEEP_DOC = 'ESP-IDF "Power Management": CONFIG_PM_ENABLE + CONFIG_FREERTOS_USE_TICKLESS_IDLE, light_sleep_enable';

export const ROWS: readonly Row[] = [
  {
    name: 'adaptive',
    recreates: 'this firmware: power policy by break-even, durable queue on flash, full-jitter backoff (firmware/)',
    sources: ['firmware/app/main.ts', 'firmware/power/policy.ts'],
    app: FIRMWARE, config: {}, platform: MODDABLE_PLATFORM, autoLightSleep: true, report: 'energy',
  },
  anchorRow('esp-mqtt', ESP_IDF_PLATFORM, true,
    'ESP-IDF app with esp-mqtt always connected, automatic light sleep, defaults: keepalive 120 s, reconnect every 10 s, QoS 1 outbox expiring after 30 s',
    [ESP_MQTT_DOC, 'CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS default 30000', LIGHT_SLEEP_DOC]),
  anchorRow('esp-mqtt-outbox-1d', ESP_IDF_PLATFORM, true,
    'the same with the outbox expiry raised to one day (CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS=86400000), bounded by RAM at 500 messages',
    [ESP_MQTT_DOC, LIGHT_SLEEP_DOC]),
  anchorRow('esp-idf-deep-sleep-rtc', ESP_IDF_PLATFORM, true,
    'ESP-IDF deep sleep between samples, samples batched in RTC memory (4 KB, 339 samples), one esp-mqtt session per upload interval or when the buffer is full, a failed upload retried at the next wake',
    ['ESP-IDF examples system/deep_sleep (RTC_DATA_ATTR, esp_sleep_enable_timer_wakeup) and protocols/mqtt/ssl_mutual_auth', ESP_MQTT_DOC]),
  anchorRow('coremqtt-demo', ESP_IDF_PLATFORM, true,
    'coreMQTT demo loop: Wi-Fi kept associated, a TLS + MQTT session per upload interval with backoffAlgorithm (base 500 ms, cap 5 s, 5 attempts), one QoS 1 PUBLISH per sample, DISCONNECT',
    ['aws/amazon-freertos demos/coreMQTT/mqtt_demo_mutual_auth.c: RETRY_BACKOFF_BASE_MS 500, RETRY_MAX_BACKOFF_DELAY_MS 5000, RETRY_MAX_ATTEMPTS 5', LIGHT_SLEEP_DOC]),
  anchorRow('moddable-mqtt-aws-reconnect', MODDABLE_PLATFORM, false,
    'Moddable examples/network/aws/mqtt-aws (keepalive 60 s, QoS 0) plus the five lines a user adds: on close, connect again after 5 s; Moddable\'s ESP32 build has no automatic light sleep',
    ['Moddable SDK 8.2.3 examples/network/aws/mqtt-aws/main.js; modules/network/mqtt/mqtt.js', 'build/devices/esp32/xsProj-esp32/sdkconfig.defaults (no CONFIG_PM_ENABLE)']),
  anchorRow('moddable-mqtt-aws', MODDABLE_PLATFORM, false,
    'Moddable examples/network/aws/mqtt-aws as shipped: onClose only traces, so it stops delivering after the first disconnect',
    ['Moddable SDK 8.2.3 examples/network/aws/mqtt-aws/main.js'], 'stops'),
  anchorRow('naive-per-sample', MODDABLE_PLATFORM, false,
    'wake, join, handshake and publish once per sample on this project\'s platform, deep sleep between; a sample that fails is gone',
    ['no source: the pattern a first prototype follows']),
];
