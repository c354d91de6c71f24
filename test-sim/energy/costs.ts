/**
 * What each operation costs on the chip, as the simulator's energy meter and
 * the bench's lower bound charge it: the chip's currents (the firmware's
 * energy profile, firmware/power/policy.ts) plus the durations of the operations
 * a platform performs, chosen by what that platform declares it can do
 * (`PlatformCapabilities`: join kind, TLS implementation and key type,
 * resumption) and by its runtime (XS boots a JavaScript machine, a C app does
 * not). Every figure names its source; a figure that is a modelling decision
 * says so.
 *
 * Three bands: `typical` (what runs), `pessimistic` and `optimistic` (the
 * sensitivity band the bench reports by pricing the same run again).
 */
import { ENERGY_PROFILES, type EnergyProfile } from '../../firmware/power/policy';
import type { PlatformCapabilities } from '../../hal/types';
import { CAPABILITIES as SIM_CAPABILITIES } from '../../hal/sim/capabilities';

export type Band = 'typical' | 'pessimistic' | 'optimistic';
export const BANDS: readonly Band[] = ['typical', 'pessimistic', 'optimistic'];

/** The software a device runs: which operations a boot and a handshake are made of. */
export interface Platform {
  /** Short name for reports. */
  name: string;
  /** `xs`: a boot starts the XS machine and the app's JavaScript; `native`: an ESP-IDF C app. */
  runtime: 'xs' | 'native';
  capabilities: PlatformCapabilities;
}

/** This project's device: hal/moddable on XS, as hal/sim declares it (a test holds the two lists equal). */
export const MODDABLE_PLATFORM: Platform = Object.freeze({ name: 'moddable', runtime: 'xs', capabilities: SIM_CAPABILITIES });

/** Names of the steady currents the meter integrates over simulated time. */
export type CurrentKey =
  | 'off' | 'deepSleepMa' | 'lightSleepMa' | 'cpuIdleMa' | 'cpuMa' | 'rxMa'
  | 'connectedLightSleepMa' | 'connectedModemSleepMa';

export type JoinKind = 'scan' | 'channel-bssid';
export type TlsImplementation = PlatformCapabilities['tls']['implementation'];
export type KeyType = PlatformCapabilities['tls']['keyTypes'][number];

export interface ChipCosts {
  band: Band;
  chip: EnergyProfile['name'];
  volts: number;
  currents: Readonly<Record<CurrentKey, number>>;
  txMa: number;
  /** Peak of an 802.11b management frame at full power (joins): the figure a regulator must supply. */
  txPeakMa: number;
  /** ROM and second-stage bootloader, ESP-IDF start-up, to the app's first instruction, at `bootMa`. */
  bootToAppMs: number;
  bootMa: number;
  /** XS: clone the preloaded machine from flash and run `main`'s module bodies, at `cpuMa`. */
  xsStartMs: number;
  /** CPU time of one XS meter unit on the chip at 160 MHz, ns (host measurement scaled by CoreMark). */
  xsNsPerUnit: number;
  /** XS meter units of one firmware event (timer, bytes, Wi-Fi event), for engines that cannot meter XS (node). */
  xsUnitsPerEvent: number;
  /** Native C app: CPU per event, ms. */
  nativeMsPerEvent: number;
  /** Association (auth, assoc, WPA2 4-way handshake) after a scan of every channel / a fast scan of the cached channel and BSSID. */
  joinMs: Readonly<Record<JoinKind, number>>;
  /** DHCP lease (skipped with `cached-ip`). */
  dhcpMs: number;
  /** One broker or resolver round trip (DNS, TCP SYN, TLS flights, MQTT request/answer), radio listening. */
  rttMs: number;
  /** Client CPU of a TLS handshake, ms: by implementation and key type, full and resumed. */
  tlsComputeMs: Readonly<Record<TlsImplementation, Readonly<Record<KeyType, { full: number; resumed: number }>>>>;
  /** Effective 802.11 rate for bytes on air, bit/s. */
  airBitsPerS: number;
  /** NOR flash: program a 256-byte page, erase a 4 KB sector, at `flashMa` (CPU waiting on the SPI flash). */
  flashPageProgramMs: number;
  flashSectorEraseMs: number;
  flashMa: number;
  /** ULP co-processor reading a sensor while the chip stays in deep sleep (the lower bound's per-sample wake). */
  ulpSampleMs: number;
  ulpMa: number;
  /** The fastest boot from deep sleep an ESP-IDF app can have (the lower bound's upload wake). */
  fastBootMs: number;
}

/**
 * ESP32 at 160 MHz. Currents from the firmware's profile (datasheet, ESP-IDF
 * low-power guide); durations:
 * - bootToAppMs 270: T. von Eicken, "ESP32 Deep-Sleep with Periodic Wake-up"
 *   (2018, blog.voneicken.com/2018/lp-wifi-esp32-2): ~270 ms from wake to the
 *   sketch, at ~50 mA.
 * - xsStartMs, xsNsPerUnit, xsUnitsPerEvent, tlsComputeMs.moddable-js: see
 *   MEASURED below (Moddable simulator and XS simulator, scaled by CoreMark).
 * - joinMs.scan 900 incl. DHCP (von Eicken, "Low-Power Wifi with the ESP32",
 *   mode 0: SSID only); channel-bssid 200 with a cached IP (same, mode 3);
 *   the DHCP share, 150 ms, is a modelling decision (two LAN round trips plus
 *   the server), 1,000 ms pessimistic for lwIP's ARP conflict check.
 * - tlsComputeMs.mbedtls full: the firmware profile's `tlsClientCpuMs` by
 *   device key type (RSA-2048 1,047 ms, ECDSA P-256 378 ms: cited ESP32
 *   figures summed in firmware/link/energy.ts); resumed: symmetric crypto
 *   only, 20 ms.
 * - flash: Winbond W25Q32JV datasheet, page program 0.4 ms typical (3 ms max),
 *   4 KB sector erase 45 ms typical (400 ms max), the CPU waiting at ~30 mA.
 * - ulp: ESP32 datasheet, "ULP co-processor is powered on": 150 uA; a sensor
 *   read in 2 ms.
 * - fastBootMs 30: ESP-IDF deep-sleep wake stub / CONFIG_BOOTLOADER_SKIP_VALIDATE_IN_DEEP_SLEEP
 *   ("Deep Sleep Wake Stubs", ESP-IDF API guide) runs code within a few ms of the
 *   wake; 30 ms to a full app with image validation skipped is a modelling decision.
 */
function esp32(profile: EnergyProfile): ChipCosts {
  return {
    band: 'typical',
    chip: profile.name,
    volts: profile.volts,
    currents: {
      off: 0,
      deepSleepMa: profile.deepSleepMa,
      lightSleepMa: profile.lightSleepMa,
      cpuIdleMa: profile.cpuIdleMa,
      cpuMa: profile.cpuMa,
      rxMa: profile.rxMa,
      connectedLightSleepMa: profile.connectedLightSleepMa,
      connectedModemSleepMa: profile.connectedModemSleepMa,
    },
    txMa: profile.txMa,
    txPeakMa: 240, // ESP32 datasheet, "RF power consumption": 802.11b 1 Mbps TX at 19.5 dBm
    bootToAppMs: profile.bootMs,
    bootMa: profile.bootMa,
    xsStartMs: MEASURED.xsStartMs,
    xsNsPerUnit: MEASURED.xsNsPerUnit,
    xsUnitsPerEvent: MEASURED.xsUnitsPerEvent,
    nativeMsPerEvent: 0.5, // modelling decision: an ESP-IDF event handler, a few hundred microseconds
    joinMs: { scan: profile.joinColdMs - 150, 'channel-bssid': profile.joinHintMs },
    dhcpMs: 150,
    rttMs: profile.roundTripMs,
    tlsComputeMs: {
      'moddable-js': {
        'rsa-2048': { full: MEASURED.moddableRsaFullMs, resumed: MEASURED.moddableResumedMs },
        // Moddable's TLS cannot sign with an EC key (REFERENCE.md); priced as RSA so a row never gets it cheaper.
        'ec-p256': { full: MEASURED.moddableRsaFullMs, resumed: MEASURED.moddableResumedMs },
      },
      mbedtls: {
        'rsa-2048': { full: profile.tlsClientCpuMs['rsa-2048'], resumed: 20 },
        'ec-p256': { full: profile.tlsClientCpuMs['ec-p256'], resumed: 20 },
      },
    },
    airBitsPerS: profile.airBitsPerS,
    flashPageProgramMs: 0.4,
    flashSectorEraseMs: 45,
    flashMa: 30,
    ulpSampleMs: 2,
    ulpMa: 0.15,
    fastBootMs: 30,
  };
}

/**
 * Figures measured with tools/bench/moddable/measure.ts (release builds in
 * mcsim, CPU time of the mcsim process from /proc/<pid>/schedstat) and the XS
 * simulator, scaled to one ESP32 core at 160 MHz by CoreMark: this machine ran
 * eembc/coremark (gcc 12 -O2) at 20,400 iterations per CPU second, one ESP32
 * core at 160 MHz 331.7 (ochrin/coremark README): x61.5.
 */
export const MEASURED = Object.freeze({
  /**
   * Cloning the preloaded XS machine at a wake. Not measured: in mcsim it cannot
   * be told apart from mcsim's own start-up (the firmware reaches its first
   * instruction 94.6 ms of host CPU later than the calibration app, most of it
   * loading a larger shared object). Moddable's clone allocates the chunk and
   * slot heaps and links the preloaded one in flash: 20 ms is a modelling
   * decision, 100 ms pessimistic.
   */
  xsStartMs: 20,
  /** One XS meter unit: 2.57 ns of host CPU (the codec's encode loop in mcsim against xsnap's 7,166 units an encode) x 61.5. */
  xsNsPerUnit: 158,
  /** Mean XS meter units per firmware event, the boot delivery included (npm run bench engine section, 6 duty-cycled hours in XS). */
  xsUnitsPerEvent: 130_773,
  /**
   * Moddable's JavaScript TLS (C big-number arithmetic underneath), client side
   * of a full RSA-2048 mutual-auth handshake against the local endpoint:
   * median 17.8 ms of host CPU over 11 handshakes (16.3-28.6) x 61.5.
   */
  moddableRsaFullMs: 1096,
  /** Not measured (mcsim's runs never resumed): an abbreviated handshake is symmetric crypto only, 40 ms. */
  moddableResumedMs: 40,
});

/** The sensitivity band: every duration and current moved to the unfavourable (or favourable) end of its source's range. */
function banded(base: ChipCosts, band: Band): ChipCosts {
  if (band === 'typical') return base;
  const worse = band === 'pessimistic';
  const d = (ms: number, pess: number, opt: number) => ms * (worse ? pess : opt);
  const mapJs = (keys: ChipCosts['tlsComputeMs'][TlsImplementation], k: number) =>
    Object.fromEntries(Object.entries(keys).map(([key, v]) => [key, { full: v.full * k, resumed: v.resumed * k }])) as ChipCosts['tlsComputeMs'][TlsImplementation];
  return {
    ...base,
    band,
    currents: {
      ...base.currents,
      // ESP32 datasheet ranges: RX 95-100 mA, CPU 27-44 mA at 160 MHz; deep sleep 10 uA typical, 150 uA with the ULP
      // or a module's regulator (von Eicken measured 250 uA on a Huzzah32 before modification).
      deepSleepMa: worse ? 0.15 : base.currents.deepSleepMa,
      cpuMa: worse ? 50 : 40,
      rxMa: worse ? 100 : 95,
      // ESP-IDF low-power guide: automatic light sleep DTIM 1 / 3 / 10 = 3.34 / 2.33 / 2.19 mA.
      connectedLightSleepMa: worse ? 3.34 : 2.19,
      connectedModemSleepMa: worse ? 31.1 : 28.8,
    },
    txMa: worse ? 240 : 180,
    bootToAppMs: d(base.bootToAppMs, 1.3, 0.5),
    xsStartMs: d(base.xsStartMs, 5, 0.5),
    // CoreMark favours the ESP32 for interpreter and big-number code: XS runs from flash through the cache, and a
    // 64-bit host multiplies 32-bit digits natively where the LX6 needs two instructions.
    xsNsPerUnit: d(base.xsNsPerUnit, 2, 0.8),
    joinMs: { scan: d(base.joinMs.scan, 2.5, 0.8), 'channel-bssid': d(base.joinMs['channel-bssid'], 2, 0.8) },
    dhcpMs: worse ? 1000 : 50,
    rttMs: worse ? 100 : 15,
    tlsComputeMs: {
      'moddable-js': mapJs(base.tlsComputeMs['moddable-js'], worse ? 2.5 : 0.8),
      mbedtls: mapJs(base.tlsComputeMs.mbedtls, worse ? 1.7 : 0.8),
    },
    airBitsPerS: worse ? 2_000_000 : 12_000_000,
    flashPageProgramMs: worse ? 3 : 0.4,
    flashSectorEraseMs: worse ? 400 : 45,
  };
}

export function chipCosts(chip: EnergyProfile['name'] = 'esp32', band: Band = 'typical'): ChipCosts {
  return banded(esp32(ENERGY_PROFILES[chip]), band);
}

// ------------------------------------------------------------------ operations

/** One operation's duration and charge (mA·ms). */
export interface OpCost {
  ms: number;
  maMs: number;
  /** Highest current drawn during it. */
  peakMa: number;
}

const op = (ms: number, ma: number): OpCost => ({ ms, maMs: ms * ma, peakMa: ma });
const sum = (...parts: OpCost[]): OpCost => ({
  ms: parts.reduce((t, p) => t + p.ms, 0),
  maMs: parts.reduce((t, p) => t + p.maMs, 0),
  peakMa: Math.max(0, ...parts.map((p) => p.peakMa)),
});

/** A boot from deep sleep or power-on until the app's first event. */
export function bootCost(c: ChipCosts, p: Platform): OpCost {
  const idf = op(c.bootToAppMs, c.bootMa);
  if (p.runtime === 'native') return idf;
  return sum(idf, op(c.xsStartMs, c.currents.cpuMa));
}

/** The best join the platform declares: the join kind, and DHCP unless it keeps its lease. */
export function bestJoinKind(p: Platform, hinted: boolean): JoinKind {
  return hinted && p.capabilities.wifiJoin.includes('channel-bssid') ? 'channel-bssid' : 'scan';
}

/** Whether a join of `kind` asks DHCP for an address: unless the platform keeps its lease, which a hinted join reuses. */
export function joinUsesDhcp(p: Platform, kind: JoinKind): boolean {
  return !(p.capabilities.wifiJoin.includes('cached-ip') && kind !== 'scan');
}

export function joinCost(c: ChipCosts, p: Platform, kind: JoinKind): OpCost {
  const dhcp = joinUsesDhcp(p, kind) ? c.dhcpMs : 0;
  return { ...op(c.joinMs[kind] + dhcp, c.currents.rxMa), peakMa: c.txPeakMa };
}

export function dnsCost(c: ChipCosts): OpCost {
  return op(c.rttMs, c.currents.rxMa);
}

/** TCP connect plus the TLS 1.2 handshake: full = SYN + 2 TLS flights, resumed = SYN + 1; client CPU on top. */
export function handshakeCost(c: ChipCosts, p: Platform, resumed: boolean): OpCost {
  const key = p.capabilities.tls.keyTypes[0];
  const compute = c.tlsComputeMs[p.capabilities.tls.implementation][key];
  return sum(op((resumed ? 2 : 3) * c.rttMs, c.currents.rxMa), op(resumed ? compute.resumed : compute.full, c.currents.cpuMa));
}

export function airtimeCost(c: ChipCosts, bytes: number, tx: boolean): OpCost {
  return op((bytes * 8 * 1000) / c.airBitsPerS, tx ? c.txMa : c.currents.rxMa);
}

export function roundTripCost(c: ChipCosts): OpCost {
  return op(c.rttMs, c.currents.rxMa);
}

/** CPU for `units` XS meter units. */
export function xsComputeCost(c: ChipCosts, units: number): OpCost {
  return op((units * c.xsNsPerUnit) / 1e6, c.currents.cpuMa);
}

/** CPU for one event when the engine cannot meter it. */
export function eventCost(c: ChipCosts, p: Platform): OpCost {
  return p.runtime === 'native' ? op(c.nativeMsPerEvent, c.currents.cpuMa) : xsComputeCost(c, c.xsUnitsPerEvent);
}

export function flashWriteCost(c: ChipCosts, bytes: number): OpCost {
  return op(Math.ceil(bytes / 256) * c.flashPageProgramMs, c.flashMa);
}

export function flashEraseCost(c: ChipCosts): OpCost {
  return op(c.flashSectorEraseMs, c.flashMa);
}

// ------------------------------------------------------------------ bytes on air

/**
 * Bytes on the air besides the application's: per TLS record 29 (RFC 5288:
 * 5 header, 8 explicit nonce, 16 tag); per TCP segment 40 (IPv4 20 + TCP 20,
 * lwIP sends no timestamps) and 54 of 802.11 framing (MAC header with QoS 26,
 * LLC/SNAP 8, CCMP header and MIC 16, FCS 4) plus a 14-byte 802.11 ACK; one TCP
 * ACK back per segment. IEEE 802.11-2016 §9.3.2.1, §12.5.3; RFC 791, 793, 1042.
 */
export const WIRE = Object.freeze({
  tlsRecord: 29,
  mss: 1460,
  perSegment: 40 + 54 + 14,
  /** A bare TCP ACK from the peer, framed. */
  tcpAck: 40 + 54 + 14,
  /** SYN, SYN-ACK, ACK, and FIN/ACK both ways at close. */
  tcpOpenClose: 7 * (44 + 54 + 14),
  /** Query and answer for an AWS IoT endpoint name (RFC 1035: 12-byte header, the name, a CNAME and A records) over UDP/IP. */
  dns: 2 * (28 + 54 + 14) + 63 + 160,
  /** DISCOVER, OFFER, REQUEST, ACK (RFC 2131: at least 300 bytes of BOOTP each) over UDP/IP, broadcast frames. */
  dhcp: 4 * (342 + 28 + 54),
  /** Probe, authentication, association and the four EAPOL-Key frames of the WPA2 handshake, with their ACKs. */
  join: 1300,
});

/**
 * TCP payload bytes of both directions, measured against the local endpoint
 * (Node's TLS server, dev PKI: RSA-2048 leaf + intermediate, client certificate,
 * ECDHE-RSA-AES128-GCM-SHA256): full 2,380 out + 3,493 in; resumed with a
 * session ticket 1,468 + 162 (a session-id resumption is about 400).
 */
export const MEASURED_TLS_BYTES = Object.freeze({ full: 5873, resumed: 1630 });

/** Bytes on air for one application write (or read) of `bytes`, both directions, framing and ACKs included. */
export function wireBytes(bytes: number): number {
  const payload = bytes + WIRE.tlsRecord;
  const segments = Math.max(1, Math.ceil(payload / WIRE.mss));
  return payload + segments * (WIRE.perSegment + WIRE.tcpAck);
}

export function handshakeWireBytes(resumed: boolean): number {
  const tls = resumed ? MEASURED_TLS_BYTES.resumed : MEASURED_TLS_BYTES.full;
  return WIRE.tcpOpenClose + tls + Math.ceil(tls / WIRE.mss) * (WIRE.perSegment + WIRE.tcpAck) + (resumed ? 2 : 6) * WIRE.tcpAck;
}
