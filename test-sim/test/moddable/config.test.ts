/** hal/moddable/config: mc/config (strings from the mcconfig command line) to firmware config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firmwareConfig, firmwareKeys } from '../../../hal/moddable/config';
import { resolveConfig } from '../../../firmware/app/config';

test('command-line digits become numbers where firmware expects numbers', () => {
  const out = firmwareConfig({ port: '8443', keepAliveS: ' 60 ', sampleIntervalMs: 10000, thing: '1234' });
  assert.deepEqual(out, { port: 8443, keepAliveS: 60, sampleIntervalMs: 10000, thing: '1234' });
});

test('alpn given as a comma list becomes an array; empty means none', () => {
  assert.deepEqual(firmwareConfig({ alpn: 'x-amzn-mqtt-ca' }).alpn, ['x-amzn-mqtt-ca']);
  assert.deepEqual(firmwareConfig({ alpn: 'a, b' }).alpn, ['a', 'b']);
  assert.deepEqual(firmwareConfig({ alpn: '' }).alpn, []);
});

test('Wi-Fi secrets and Moddable\'s own keys never reach firmware; sntp becomes the firmware\'s time servers', () => {
  const out = firmwareConfig({ ssid: 'home', password: 'secret', sntp: 'pool.ntp.org, time.google.com', file: { root: '/tmp/' }, format: 'RGB565LE', endpoint: 'e' });
  assert.deepEqual(out, { endpoint: 'e', timeServers: ['pool.ntp.org', 'time.google.com'] });
  assert.ok(!firmwareKeys().includes('password'));
});

test('what the simulator manifest produces is a valid firmware config', () => {
  const mc = {
    endpoint: '127.0.0.1', port: '8443', thing: 'sim-thing-1', topic: 'dt/fieldlink/{thing}/telemetry',
    sampleIntervalMs: 10000, uploadIntervalMs: 30000, powerMode: 'auto', keepAliveS: 1200,
    credentials: { ca: 'ca.der', certificate: 'device.der', key: 'device.key.der' },
    serverName: 'local-ats.iot.sim-local-1.amazonaws.com', alpn: 'x-amzn-mqtt-ca', ssid: 'x', halPlatform: 'simulator',
  };
  const config = resolveConfig(firmwareConfig(mc));
  assert.equal(config.port, 8443);
  assert.deepEqual(config.alpn, ['x-amzn-mqtt-ca']);
  assert.equal(config.serverName, 'local-ats.iot.sim-local-1.amazonaws.com');
  assert.equal(config.topic, 'dt/fieldlink/sim-thing-1/telemetry');
});
