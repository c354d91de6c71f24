/**
 * The simulated Wi-Fi station, host side of `hal.wifi`: join (timed by what
 * the platform's capabilities let it skip, radio/wifi.ts), leave, loss when
 * the access point goes away, and
 * 802.11 power save. It owns the radio's power state and reports every change
 * to the energy meter and the event record (`radio`).
 */
import type { LinkError, WifiHint } from '../../hal/types';
import { EVENTS } from '../../hal/events';
import { Op, bodyJson, withJson } from '../../hal/sim/wire';
import type { TimerHandle } from '../clock/scheduler';
import { ok, type BridgeTable } from '../device/bridge';
import type { DeviceContext } from '../device/context';
import type { PowerSaveMode, RadioPower } from '../energy/meter';
import { ACCESS_POINT, SimWifi, hintFits, type WifiTiming } from './wifi';

export class WifiStation {
  readonly wifi: SimWifi;
  private task: TimerHandle | undefined;

  constructor(private readonly ctx: DeviceContext, timing: WifiTiming) {
    this.wifi = new SimWifi(timing);
  }

  get associated(): boolean {
    return this.wifi.state === 'associated';
  }

  /** Fault injection: the access point goes away (or comes back). */
  setAccessPoint(up: boolean): void {
    this.wifi.apUp = up;
    if (!up && this.associated) {
      this.power('off');
      this.wifi.losses++;
      const error: LinkError = { category: 'wifi', message: 'access point lost' };
      this.ctx.post(() => withJson(Op.WifiLost, 0, error));
    }
  }

  /** The machine stopped: the radio goes off with it. */
  halt(): void {
    this.task?.cancel();
    this.power('off');
  }

  readonly bridge: BridgeTable = {
    [Op.WifiJoin]: (m) => {
      this.join(bodyJson<{ hint: WifiHint | null }>(m).hint);
      return ok(m);
    },
    [Op.WifiLeave]: (m) => {
      this.task?.cancel();
      this.power('off');
      return ok(m);
    },
    [Op.WifiPowerSave]: (m) => {
      const mode = bodyJson<PowerSaveMode>(m);
      this.ctx.meter.setPowerSave(mode);
      this.ctx.record(EVENTS.wifiPowerSave, { mode });
      return ok(m);
    },
  };

  private power(state: RadioPower, hinted = true): void {
    if (this.wifi.state !== state) this.ctx.record(EVENTS.radio, { state });
    this.wifi.state = state;
    this.ctx.meter.setRadio(state, hinted);
  }

  private join(hint: WifiHint | null): void {
    this.task?.cancel();
    const fits = hintFits(hint);
    this.power('joining', fits);
    this.wifi.joins++;
    if (!this.wifi.apUp) {
      this.task = this.ctx.later(this.wifi.timing.joinTimeoutMs, () => {
        this.power('off');
        this.wifi.joinFailures++;
        return withJson(Op.WifiError, 0, { category: 'wifi', message: 'no access point answered' } satisfies LinkError);
      });
      return;
    }
    const plan = this.ctx.meter.joinPlan(fits);
    this.task = this.ctx.later(plan.ms, () => {
      this.power('associated');
      // The fields hal/moddable logs for the same event.
      this.ctx.record(EVENTS.wifiJoined, { ms: plan.ms, channel: ACCESS_POINT.channel, fastScan: plan.kind === 'channel-bssid', address: plan.dhcp ? 'dhcp' : 'lease' });
      return withJson(Op.WifiJoined, 0, ACCESS_POINT);
    });
  }
}
