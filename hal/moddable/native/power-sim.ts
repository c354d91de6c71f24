/**
 * `hal/moddable/native/power` on the Moddable simulator (mac, lin, win): no
 * native code. Retained bytes live in RAM for as long as the simulator process
 * runs (an emulated deep sleep keeps them; quitting mcsim is the power cut).
 * Deep sleep does not exist here: it is logged as unsupported and returns
 * `false`, and hal/moddable emulates the wake-up with a soft reboot. There is
 * no watchdog, power management or Wi-Fi power save.
 */
import type { BootReason } from '../../types';
import type * as Native from './power';

/** RTC memory budget mirrored from the ESP32 implementation. */
const CAPACITY = 2048;

let retained: ArrayBuffer | undefined;

export const bootReason: typeof Native.bootReason = (): BootReason => 'power-on';

export const restartCause: typeof Native.restartCause = () => undefined;

export const deepSleep: typeof Native.deepSleep = (ms) => {
  if (!Number.isInteger(ms) || ms < 1 || ms > 0xffffffff) throw new RangeError(`deep sleep: ${ms} is not an integer from 1 to 4294967295 ms`);
  trace(`${JSON.stringify({ event: 'native.deep-sleep-unsupported', fields: { ms, platform: 'simulator' } })}\n`);
  return false;
};

export const restart: typeof Native.restart = () => false;

export const retainedCapacity: typeof Native.retainedCapacity = () => CAPACITY;

export const retainedLoad: typeof Native.retainedLoad = () => retained?.slice(0);

export const retainedStore: typeof Native.retainedStore = (bytes) => {
  if (bytes.byteLength > CAPACITY) throw new RangeError(`retained: ${bytes.byteLength} bytes exceed ${CAPACITY}`);
  retained = bytes.slice(0);
};

export const watchdogArm: typeof Native.watchdogArm = () => false;

export const configurePowerManagement: typeof Native.configurePowerManagement = () => undefined;

export const cpuBoost: typeof Native.cpuBoost = () => false;

export const setWifiPowerSave: typeof Native.setWifiPowerSave = () => undefined;
