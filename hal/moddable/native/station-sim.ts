/**
 * `hal/moddable/native/station` on the Moddable simulator (mac, lin, win): the
 * legacy `wifi` module (modules/network/wifi/sim/wifi.js), which stands for the
 * host's own network and reports "connect" then "gotIP" about a second apart.
 * Channel, BSSID and addresses mean nothing here and are ignored.
 */
import Net from 'net';
import WiFi from 'wifi';
import type * as Station from './station';

/** `Net.get` takes more names than the typings list (modules/network/net). */
const netGet = Net.get as (what: string) => unknown;

let station: WiFi | undefined;

export const join: typeof Station.join = (options, onEvent) => {
  leave();
  const connect: ConstructorParameters<typeof WiFi>[0] = { ssid: options.ssid };
  if (options.password) connect.password = options.password;
  station = new WiFi(connect, (message: string, reason?: number) => {
    if (message === WiFi.connected) {
      onEvent({ kind: 'connected', channel: Number(netGet('CHANNEL')) || 0, bssid: String(netGet('BSSID') ?? ''), fastScan: false });
    } else if (message === WiFi.gotIP) {
      onEvent({ kind: 'ip', ip: String(netGet('IP') ?? ''), source: 'dhcp' });
    } else if (message === WiFi.disconnected) {
      onEvent({ kind: 'disconnected', reason: reason ?? 0, passwordRejected: reason === -1 });
    } else if (message === WiFi.lostIP) {
      onEvent({ kind: 'lost-ip' });
    }
  });
};

export const leave: typeof Station.leave = () => {
  if (!station) return;
  station.close();
  station = undefined;
  WiFi.disconnect();
};

export const forgetLease: typeof Station.forgetLease = () => {};

export const info: typeof Station.info = () => {
  const ip = netGet('IP');
  if (typeof ip !== 'string') return undefined;
  return { channel: Number(netGet('CHANNEL')) || 0, bssid: String(netGet('BSSID') ?? ''), ip };
};
