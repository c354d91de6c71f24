/**
 * The simulator's energy meter. It keeps a ledger of what the device did:
 * simulated time in each power state (deep sleep, awake with the radio off,
 * joining, associated by power-save mode) and a count of each operation (boot,
 * XS start, join, DNS, TLS handshake, bytes on air, broker round trips, CPU,
 * flash writes and erases). The ledger is priced by test-sim/energy/costs.ts:
 * each operation at what the platform's declared capability costs on the chip
 * (`Platform`: hal/sim's capabilities for this firmware), so the same run can be
 * priced again under the pessimistic and optimistic bands.
 *
 * Contract with the host: an operation the host gives simulated time replaces
 * the power state's charge for that time. A boot's time is spent in deep sleep
 * before `boot()` (the host schedules the wake that much later); a handshake's
 * modelled wait follows `handshake()` in the associated state; a join is the
 * time spent `joining` until `associated`. Operations the simulator gives no
 * time (CPU, bytes, round trips, flash, DNS) are charged in full on top: the
 * device is awake that much longer.
 */
import type { EnergyProfile } from '../../firmware/power/policy';
import {
  airtimeCost, bestJoinKind, bootCost, chipCosts, dnsCost, eventCost, flashEraseCost, flashWriteCost, handshakeCost, joinUsesDhcp,
  handshakeWireBytes, joinCost, MODDABLE_PLATFORM, roundTripCost, WIRE, wireBytes, xsComputeCost,
  type Band, type ChipCosts, type CurrentKey, type JoinKind, type OpCost, type Platform,
} from './costs';

export type CpuState = 'deep-sleep' | 'awake' | 'off';
export type RadioPower = 'off' | 'joining' | 'associated';
export type PowerSaveMode = 'none' | 'min-modem' | 'max-modem';

/** Where the energy went: states and operations. The parts add up to the total. */
export const CATEGORIES = [
  'sleep', 'idle', 'connected', 'wifi-join', 'boot', 'xs-start', 'dns', 'tls-handshake', 'airtime', 'round-trips', 'cpu', 'flash',
] as const;
export type Category = (typeof CATEGORIES)[number];

type OpKind = 'boot' | 'xs-start' | 'join' | 'dns' | 'handshake' | 'airtime-tx' | 'airtime-rx' | 'round-trip' | 'event' | 'compute' | 'flash-write' | 'flash-erase';

interface OpEntry {
  kind: OpKind;
  /** Join kind, or `resumed`/`full` for handshakes. */
  param: string;
  count: number;
  /** Bytes (airtime, flash writes) or XS meter units (compute). */
  units: number;
}

const OP_CATEGORY: Record<OpKind, Category> = {
  boot: 'boot', 'xs-start': 'xs-start', join: 'wifi-join', dns: 'dns', handshake: 'tls-handshake', 'airtime-tx': 'airtime',
  'airtime-rx': 'airtime', 'round-trip': 'round-trips', event: 'cpu', compute: 'cpu', 'flash-write': 'flash', 'flash-erase': 'flash',
};

export interface MeterReading {
  chargeMaMs: number;
  energyMj: number;
  avgMa: number;
  radioOnMs: number;
  deepSleepMs: number;
  /** Application bytes plus the 29-byte TLS record overhead, both directions. */
  bytesOnAir: number;
  /** Everything on the air: framing, TCP/IP, ACKs, handshakes, DNS, DHCP and joins (costs.ts WIRE). */
  bytesOnAirFramed: number;
  /** Highest current drawn at any moment, mA. */
  peakMa: number;
  /** Energy by category, mJ; sums to `energyMj`. */
  byCategoryMj: Record<Category, number>;
  /** Operation counts. */
  ops: { boots: number; events: number; joins: number; handshakesFull: number; handshakesResumed: number; dns: number; flashWrites: number; flashErases: number };
}

export interface MeterOptions {
  /** What the device's software can do (default: this firmware on hal/moddable). */
  platform?: Platform;
}

export class EnergyMeter {
  private cpu: CpuState = 'awake';
  private radio: RadioPower = 'off';
  private powerSave: PowerSaveMode = 'min-modem';
  private since: number;
  private readonly started: number;
  /** Simulated time by (category, current). */
  private readonly stateMs = new Map<string, number>();
  private readonly ops = new Map<string, OpEntry>();
  /** Running charge at typical costs, for the trace and cheap reads. */
  private charge = 0;
  private radioOnMs = 0;
  private deepSleepMs = 0;
  private bytesOnAir = 0;
  private bytesFramed = 0;
  private peakMa = 0;
  private joiningSince: number | undefined;
  private joinKind: JoinKind = 'scan';
  readonly platform: Platform;
  readonly costs: ChipCosts;
  /** Optional trace of (t, mA) steps for reports. */
  readonly trace: { t: number; ma: number; cumulativeMj: number }[] = [];

  constructor(
    readonly profile: EnergyProfile,
    private readonly now: () => number,
    /** ESP-IDF power management with automatic light sleep (CONFIG_PM_ENABLE + tickless idle). */
    private readonly autoLightSleep: boolean,
    private readonly traceEnabled = false,
    options: MeterOptions = {},
  ) {
    this.platform = options.platform ?? MODDABLE_PLATFORM;
    this.costs = chipCosts(profile.name);
    this.since = now();
    this.started = this.since;
    this.peakMa = this.currentMa();
  }

  /** How long a boot takes on this platform (ESP-IDF start, and the XS machine): the host's wake latency. */
  get bootLatencyMs(): number {
    return bootCost(this.costs, this.platform).ms;
  }

  /** How long a full TLS handshake (TCP connect included) takes on this platform: the host's modelled connect time. */
  get handshakeLatencyMs(): number {
    return handshakeCost(this.costs, this.platform, false).ms;
  }

  /** How long a handshake takes, full or resumed: the host's modelled connect time. */
  handshakeMs(resumed: boolean): number {
    return handshakeCost(this.costs, this.platform, resumed).ms;
  }

  /** The join the platform makes (`hinted`: the firmware passed a hint that fits the access point) and how long it takes: the host's join latency. */
  joinPlan(hinted: boolean): { kind: JoinKind; dhcp: boolean; ms: number } {
    const kind = bestJoinKind(this.platform, hinted);
    return { kind, dhcp: joinUsesDhcp(this.platform, kind), ms: joinCost(this.costs, this.platform, kind).ms };
  }

  /** Current drawn in the present state, mA. */
  currentMa(): number {
    return this.costs.currents[this.currentKey()];
  }

  private currentKey(): CurrentKey {
    if (this.cpu === 'off') return 'off';
    if (this.cpu === 'deep-sleep') return 'deepSleepMa';
    switch (this.radio) {
      case 'off': return this.autoLightSleep ? 'lightSleepMa' : 'cpuIdleMa';
      case 'joining': return 'rxMa';
      case 'associated':
        if (this.powerSave === 'none') return 'rxMa';
        return this.autoLightSleep ? 'connectedLightSleepMa' : 'connectedModemSleepMa';
    }
  }

  private stateCategory(): Category {
    if (this.cpu !== 'awake') return 'sleep';
    return this.radio === 'off' ? 'idle' : this.radio === 'joining' ? 'wifi-join' : 'connected';
  }

  setCpu(state: CpuState): void {
    this.advance();
    this.cpu = state;
    this.mark();
  }

  /** `hinted`: the firmware passed a cached channel/BSSID (used only if the platform can do a hinted join). */
  setRadio(state: RadioPower, hinted = true): void {
    this.advance();
    if (state === 'joining' && this.radio !== 'joining') {
      this.joiningSince = this.now();
      this.joinKind = bestJoinKind(this.platform, hinted);
    }
    if (state === 'associated' && this.radio === 'joining' && this.joiningSince !== undefined) {
      // The join completed: its simulated time becomes a join of the kind the platform can do.
      this.operation('join', this.joinKind, joinCost(this.costs, this.platform, this.joinKind), this.now() - this.joiningSince, 'wifi-join|rxMa');
      this.bytesFramed += WIRE.join + (joinUsesDhcp(this.platform, this.joinKind) ? WIRE.dhcp : 0);
    }
    if (state !== 'joining') this.joiningSince = undefined;
    this.radio = state;
    this.mark();
  }

  setPowerSave(mode: PowerSaveMode): void {
    this.advance();
    this.powerSave = mode;
    this.mark();
  }

  /**
   * Waking from deep sleep or power-on: the chip boots (and, on XS, starts the
   * machine and the app). `simulatedMs` is the boot time the host spent in deep
   * sleep before this call.
   */
  boot(simulatedMs = this.bootLatencyMs): void {
    this.advance();
    const c = this.costs;
    const idf: OpCost = { ms: c.bootToAppMs, maMs: c.bootToAppMs * c.bootMa, peakMa: c.bootMa };
    this.operation('boot', '', idf, Math.min(simulatedMs, idf.ms), 'sleep|deepSleepMa');
    if (this.platform.runtime === 'xs') {
      const xs = bootCost(c, this.platform);
      const rest = { ms: xs.ms - idf.ms, maMs: xs.maMs - idf.maMs, peakMa: c.currents.cpuMa };
      this.operation('xs-start', '', rest, Math.max(0, simulatedMs - idf.ms), 'sleep|deepSleepMa');
    }
  }

  /**
   * A TLS handshake (with its TCP connect) completed. `simulatedMs` is the
   * modelled wait the host gives it in the present state.
   */
  handshake(resumed = false, simulatedMs = this.handshakeLatencyMs): void {
    this.advance();
    this.operation('handshake', resumed ? 'resumed' : 'full', handshakeCost(this.costs, this.platform, resumed), simulatedMs, this.stateKey());
    this.bytesFramed += handshakeWireBytes(resumed);
  }

  /** A name lookup (the HAL resolves before every connect; lwIP's cache does not survive deep sleep). */
  dns(): void {
    this.advance();
    this.operation('dns', '', dnsCost(this.costs), undefined, this.stateKey());
    this.bytesFramed += WIRE.dns;
  }

  /** Application bytes sent (`tx`) or received: airtime at TX/RX current, and one round trip per send. */
  bytes(count: number, tx: boolean): void {
    this.advance();
    this.bytesOnAir += count + WIRE.tlsRecord;
    this.bytesFramed += wireBytes(count);
    this.operation(tx ? 'airtime-tx' : 'airtime-rx', '', airtimeCost(this.costs, count + WIRE.tlsRecord, tx), undefined, this.stateKey(), count + WIRE.tlsRecord);
    if (tx) this.operation('round-trip', '', roundTripCost(this.costs), undefined, this.stateKey());
  }

  /** One firmware event handled (engines without an XS meter: a calibrated CPU cost per event). */
  event(): void {
    if (this.cpu !== 'awake') return;
    this.advance();
    this.operation('event', '', eventCost(this.costs, this.platform), undefined, this.stateKey());
  }

  /** XS compute measured by the engine's meter (instead of `event()`). */
  compute(units: number): void {
    if (units <= 0) return;
    this.advance();
    this.operation('compute', '', xsComputeCost(this.costs, units), undefined, this.stateKey(), units);
  }

  flashWrite(bytes: number): void {
    this.advance();
    this.operation('flash-write', '', flashWriteCost(this.costs, bytes), undefined, this.stateKey(), Math.ceil(bytes / 256));
  }

  flashErase(): void {
    this.advance();
    this.operation('flash-erase', '', flashEraseCost(this.costs), undefined, this.stateKey());
  }

  read(): MeterReading {
    this.advance();
    return this.price(this.costs);
  }

  /** The same run priced under another band of costs. */
  readBand(band: Band): MeterReading {
    this.advance();
    return this.price(band === 'typical' ? this.costs : chipCosts(this.profile.name, band));
  }

  private stateKey(): string {
    return `${this.stateCategory()}|${this.currentKey()}`;
  }

  /** Record one operation; `simulatedMs` of the state `displaced` were its own time. */
  private operation(kind: OpKind, param: string, cost: OpCost, simulatedMs: number | undefined, displaced: string, units = 0): void {
    const id = `${kind}|${param}`;
    const entry = this.ops.get(id) ?? { kind, param, count: 0, units: 0 };
    entry.count++;
    entry.units += units;
    this.ops.set(id, entry);
    this.charge += cost.maMs;
    if (simulatedMs !== undefined && simulatedMs > 0) {
      this.stateMs.set(displaced, (this.stateMs.get(displaced) ?? 0) - simulatedMs);
      this.charge -= simulatedMs * this.costs.currents[displaced.split('|')[1] as CurrentKey];
    }
    this.peakMa = Math.max(this.peakMa, cost.peakMa);
  }

  private opCost(c: ChipCosts, e: OpEntry): OpCost {
    const n = e.count;
    const scale = (x: OpCost, k: number): OpCost => ({ ms: x.ms * k, maMs: x.maMs * k, peakMa: x.peakMa });
    switch (e.kind) {
      case 'boot': return scale({ ms: c.bootToAppMs, maMs: c.bootToAppMs * c.bootMa, peakMa: c.bootMa }, n);
      case 'xs-start': {
        const all = bootCost(c, this.platform);
        return scale({ ms: all.ms - c.bootToAppMs, maMs: all.maMs - c.bootToAppMs * c.bootMa, peakMa: c.currents.cpuMa }, n);
      }
      case 'join': return scale(joinCost(c, this.platform, e.param as JoinKind), n);
      case 'dns': return scale(dnsCost(c), n);
      case 'handshake': return scale(handshakeCost(c, this.platform, e.param === 'resumed'), n);
      case 'airtime-tx': return airtimeCost(c, e.units, true);
      case 'airtime-rx': return airtimeCost(c, e.units, false);
      case 'round-trip': return scale(roundTripCost(c), n);
      case 'event': return scale(eventCost(c, this.platform), n);
      case 'compute': return xsComputeCost(c, e.units);
      case 'flash-write': return { ms: e.units * c.flashPageProgramMs, maMs: e.units * c.flashPageProgramMs * c.flashMa, peakMa: c.flashMa };
      case 'flash-erase': return scale(flashEraseCost(c), n);
    }
  }

  private price(c: ChipCosts): MeterReading {
    const by = Object.fromEntries(CATEGORIES.map((k) => [k, 0])) as Record<Category, number>;
    for (const [id, ms] of this.stateMs) {
      const [category, key] = id.split('|') as [Category, CurrentKey];
      by[category] += ms * c.currents[key];
    }
    let peak = 0;
    for (const e of this.ops.values()) {
      const cost = this.opCost(c, e);
      by[OP_CATEGORY[e.kind]] += cost.maMs;
      peak = Math.max(peak, cost.peakMa);
    }
    for (const id of this.stateMs.keys()) {
      const key = id.split('|')[1] as CurrentKey;
      if ((this.stateMs.get(id) ?? 0) > 0) peak = Math.max(peak, c.currents[key]);
    }
    const total = Object.values(by).reduce((t, v) => t + v, 0);
    const elapsed = Math.max(1, this.now() - this.started);
    const mj = (maMs: number) => (maMs / 1000) * c.volts;
    const count = (kind: OpKind, param?: string) =>
      [...this.ops.values()].filter((e) => e.kind === kind && (param === undefined || e.param === param)).reduce((t, e) => t + e.count, 0);
    return {
      chargeMaMs: total,
      energyMj: mj(total),
      avgMa: total / elapsed,
      radioOnMs: this.radioOnMs,
      deepSleepMs: this.deepSleepMs,
      bytesOnAir: this.bytesOnAir,
      bytesOnAirFramed: Math.round(this.bytesFramed),
      peakMa: c === this.costs ? Math.max(peak, this.peakMa) : peak,
      byCategoryMj: Object.fromEntries(CATEGORIES.map((k) => [k, mj(by[k])])) as Record<Category, number>,
      ops: {
        boots: count('boot'), events: count('event') + count('compute'), joins: count('join'), handshakesFull: count('handshake', 'full'), handshakesResumed: count('handshake', 'resumed'),
        dns: count('dns'), flashWrites: count('flash-write'), flashErases: count('flash-erase'),
      },
    };
  }

  private advance(): void {
    const t = this.now();
    const dt = t - this.since;
    if (dt > 0) {
      const id = this.stateKey();
      this.stateMs.set(id, (this.stateMs.get(id) ?? 0) + dt);
      this.charge += dt * this.currentMa();
      if (this.radio !== 'off' && this.cpu === 'awake') this.radioOnMs += dt;
      if (this.cpu === 'deep-sleep') this.deepSleepMs += dt;
    }
    this.since = t;
  }

  private mark(): void {
    this.peakMa = Math.max(this.peakMa, this.currentMa());
    if (this.traceEnabled) this.trace.push({ t: this.now(), ma: this.currentMa(), cumulativeMj: (this.charge / 1000) * this.profile.volts });
  }
}
