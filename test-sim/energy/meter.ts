/**
 * The simulator's energy meter: integrates the device's current over virtual
 * time from its power state (deep sleep, awake with the radio off, joining,
 * associated with a power-save mode) and adds the charge of discrete bursts
 * (boot, TLS handshake, bytes on air, broker round trips, CPU per event).
 * Figures come from firmware/link/energy.ts, each with its source.
 */
import type { EnergyProfile } from '../../firmware/link/energy';

export type CpuState = 'deep-sleep' | 'awake';
export type RadioPower = 'off' | 'joining' | 'associated';
export type PowerSaveMode = 'none' | 'min-modem' | 'max-modem';

/** CPU time charged per firmware event (timer, bytes, Wi-Fi event), ms. */
const CPU_MS_PER_EVENT = 2;

export interface MeterReading {
  chargeMaMs: number;
  energyMj: number;
  avgMa: number;
  radioOnMs: number;
  deepSleepMs: number;
  bytesOnAir: number;
}

export class EnergyMeter {
  private cpu: CpuState = 'awake';
  private radio: RadioPower = 'off';
  private powerSave: PowerSaveMode = 'min-modem';
  private since: number;
  private readonly started: number;
  private charge = 0;
  private radioOnMs = 0;
  private deepSleepMs = 0;
  private bytesOnAir = 0;
  /** Optional trace of (t, mA) steps for reports. */
  readonly trace: { t: number; ma: number; cumulativeMj: number }[] = [];

  constructor(
    readonly profile: EnergyProfile,
    private readonly now: () => number,
    /** ESP-IDF power management with automatic light sleep (CONFIG_PM_ENABLE + tickless idle). */
    private readonly autoLightSleep: boolean,
    private readonly traceEnabled = false,
  ) {
    this.since = now();
    this.started = this.since;
  }

  /** Current drawn in the present state, mA. */
  currentMa(): number {
    const p = this.profile;
    if (this.cpu === 'deep-sleep') return p.deepSleepMa;
    switch (this.radio) {
      case 'off': return this.autoLightSleep ? p.lightSleepMa : p.cpuIdleMa;
      case 'joining': return p.rxMa;
      case 'associated':
        if (this.powerSave === 'none') return p.rxMa;
        return this.autoLightSleep ? p.connectedLightSleepMa : p.connectedModemSleepMa;
    }
  }

  setCpu(state: CpuState): void {
    this.advance();
    this.cpu = state;
    this.mark();
  }

  setRadio(state: RadioPower): void {
    this.advance();
    this.radio = state;
    this.mark();
  }

  setPowerSave(mode: PowerSaveMode): void {
    this.advance();
    this.powerSave = mode;
    this.mark();
  }

  /** Waking from deep sleep or power-on reset. */
  boot(): void {
    this.burst(this.profile.bootMs, this.profile.bootMa);
  }

  handshake(): void {
    this.burst(this.profile.tlsHandshakeMs, this.profile.rxMa);
  }

  /** Application bytes sent (`tx`) or received: airtime at TX/RX current, and one round trip per send. */
  bytes(count: number, tx: boolean): void {
    this.bytesOnAir += count + 29; // TLS 1.2 AES-GCM record overhead (RFC 5288)
    const airMs = ((count + 29) * 8 * 1000) / this.profile.airBitsPerS;
    this.burst(airMs, tx ? this.profile.txMa : this.profile.rxMa);
    if (tx) this.burst(this.profile.roundTripMs, this.profile.rxMa);
  }

  event(): void {
    if (this.cpu === 'awake') this.burst(CPU_MS_PER_EVENT, this.profile.cpuMa);
  }

  read(): MeterReading {
    this.advance();
    const elapsed = Math.max(1, this.now() - this.started);
    return {
      chargeMaMs: this.charge,
      energyMj: (this.charge / 1000) * this.profile.volts,
      avgMa: this.charge / elapsed,
      radioOnMs: this.radioOnMs,
      deepSleepMs: this.deepSleepMs,
      bytesOnAir: this.bytesOnAir,
    };
  }

  /** Charge above the present baseline for `ms` at `ma`. */
  private burst(ms: number, ma: number): void {
    this.charge += ms * Math.max(0, ma - this.currentMa());
  }

  private advance(): void {
    const t = this.now();
    const dt = t - this.since;
    if (dt > 0) {
      this.charge += dt * this.currentMa();
      if (this.radio !== 'off' && this.cpu === 'awake') this.radioOnMs += dt;
      if (this.cpu === 'deep-sleep') this.deepSleepMs += dt;
    }
    this.since = t;
  }

  private mark(): void {
    if (this.traceEnabled) this.trace.push({ t: this.now(), ma: this.currentMa(), cumulativeMj: (this.charge / 1000) * this.profile.volts });
  }
}
