/**
 * Energy profiles of the supported chips, as data: the firmware's power policy
 * computes its break-even from them, and the simulator's meter integrates the
 * same figures. Currents in mA at 3.3 V, durations in ms. Every figure names
 * its source (see also shared REFERENCE.md, "ESP32 power and timing").
 */

export interface EnergyProfile {
  readonly name: 'esp32' | 'esp32s3' | 'esp32c3';
  /** Wi-Fi transmitting (802.11n). */
  readonly txMa: number;
  /** Wi-Fi receiving or listening. */
  readonly rxMa: number;
  /** CPU running, radio off (160 MHz). */
  readonly cpuMa: number;
  /** CPU idle (FreeRTOS idle task, WFI) at 160 MHz, radio off, no automatic light sleep. */
  readonly cpuIdleMa: number;
  /** Automatic light sleep, radio off. */
  readonly lightSleepMa: number;
  readonly deepSleepMa: number;
  /** Associated, automatic light sleep between beacons, DTIM 3. */
  readonly connectedLightSleepMa: number;
  /** Associated, modem sleep (WIFI_PS_MIN_MODEM, ESP-IDF's default), DTIM 3, CPU at 160 MHz. */
  readonly connectedModemSleepMa: number;
  /** Boot from deep sleep to application code. */
  readonly bootMs: number;
  readonly bootMa: number;
  /** WPA2 join with scan and DHCP. */
  readonly joinColdMs: number;
  /** Join with cached channel, BSSID and static IP. */
  readonly joinHintMs: number;
  /** Full mutual-TLS handshake (RSA-2048 client key). */
  readonly tlsHandshakeMs: number;
  /**
   * The device's CPU time in a full TLS 1.2 handshake with Mbed TLS (hardware
   * RSA, software ECC) against an RSA-2048 server chain, as AWS IoT's with
   * Amazon Root CA 1, by device key type: ECDHE on P-256 (two point
   * multiplications), three RSA-2048 signature checks (the chain's two links and
   * the ServerKeyExchange) and the device's own CertificateVerify signature.
   * Part of `tlsHandshakeMs`, not added to it.
   */
  readonly tlsClientCpuMs: Readonly<Record<'rsa-2048' | 'ec-p256', number>>;
  /** Effective radio throughput for application bytes, bits per second. */
  readonly airBitsPerS: number;
  /** Radio-on time per round trip to the broker beyond the bytes themselves. */
  readonly roundTripMs: number;
  /** Volts, to turn mA·ms into mJ. */
  readonly volts: number;
}

const ESP32: EnergyProfile = Object.freeze({
  name: 'esp32',
  txMa: 180, // ESP32 datasheet, "RF power consumption": 11n TX 180 mA (11b 240, 11g 190)
  rxMa: 100, // ESP32 datasheet: RX/listen 95-100 mA
  cpuMa: 44, // ESP32 datasheet, "power consumption by power modes": 160 MHz, radio off, 27-44 mA (busy: top of range)
  cpuIdleMa: 27, // same table: idle end of the 27-44 mA range
  lightSleepMa: 0.8, // ESP32 datasheet: light sleep 0.8 mA
  deepSleepMa: 0.01, // ESP32 datasheet: deep sleep, RTC timer + memory, 10 uA
  connectedLightSleepMa: 2.33, // ESP-IDF "Low power mode in Wi-Fi scenarios": auto light sleep, DTIM 3
  connectedModemSleepMa: 28.8, // same guide: min modem, 160 MHz, DTIM 3
  bootMs: 270, // T. von Eicken, "Low power Wi-Fi ESP32" (2018): boot from deep sleep ~270 ms
  bootMa: 50, // same: at ~50 mA
  joinColdMs: 900, // same: WPA2 join ~900 ms cold
  joinHintMs: 200, // same: ~200 ms with channel, BSSID and static IP
  tlsHandshakeMs: 1800, // esp-idf issues #630, #8852; phoneblock #322: 1.2-2.5 s with mbedTLS (midpoint)
  // Sums of cited ESP32 figures, at 160 MHz (x1.5 where measured at 240 MHz): a P-256 point multiplication
  // 53.89 ms at 240 MHz (Mbed TLS 4.1, TF-PSA-Crypto pull request #873, ESP32, no accelerator) -> 81 ms;
  // an RSA-2048 public-key operation at most 45 ms and a private-key one at most 750 ms (ESP-IDF v6.0.2,
  // components/idf_test/include/esp32/idf_performance_target.h: the bounds its hardware RSA test enforces,
  // so these sums are upper bounds); an ECDSA P-256 signature is one point multiplication, 81 ms.
  // rsa-2048: 2 x 81 + 3 x 45 + 750 = 1,047 ms; ec-p256: 2 x 81 + 3 x 45 + 81 = 378 ms.
  tlsClientCpuMs: Object.freeze({ 'rsa-2048': 1047, 'ec-p256': 378 }),
  airBitsPerS: 6_000_000, // conservative effective TCP goodput over 802.11n; ESP32 iperf reaches ~20 Mbit/s
  roundTripMs: 30, // a broker round trip on a good Wi-Fi/Internet path, radio in RX meanwhile
  volts: 3.3,
});

export const ENERGY_PROFILES: Readonly<Record<EnergyProfile['name'], EnergyProfile>> = Object.freeze({
  esp32: ESP32,
  esp32s3: Object.freeze({
    ...ESP32,
    name: 'esp32s3',
    txMa: 340, // ESP32-S3 datasheet: TX peak 340 mA
    rxMa: 88, // ESP32-S3 datasheet: RX 88 mA
    deepSleepMa: 0.008, // ESP32-S3 datasheet: 7-8 uA
  }),
  esp32c3: Object.freeze({
    ...ESP32,
    name: 'esp32c3',
    txMa: 350, // ESP32-C3-MINI-1 datasheet: TX peak 350 mA
    rxMa: 82, // ESP32-C3-MINI-1 datasheet: RX 82 mA
    deepSleepMa: 0.005, // ESP32-C3-MINI-1 datasheet: 5 uA
  }),
});

/** Charge (mA·ms) of one duty-cycled upload: boot, join, handshake, connect, publish, disconnect. */
export function wakeCharge(p: EnergyProfile, payloadBytes: number, hinted: boolean): number {
  const join = hinted ? p.joinHintMs : p.joinColdMs;
  const airMs = ((payloadBytes + 200) * 8 * 1000) / p.airBitsPerS;
  // Boot at boot current; join and handshake mostly listening; CONNECT/CONNACK, PUBLISH/PUBACK and DISCONNECT round trips.
  return p.bootMs * p.bootMa + (join + p.tlsHandshakeMs + 3 * p.roundTripMs) * p.rxMa + airMs * p.txMa;
}

/** Charge (mA·ms) of one upload on a link that is already up: the radio wakes for the bytes and one round trip. */
export function onlineUploadCharge(p: EnergyProfile, payloadBytes: number): number {
  const airMs = ((payloadBytes + 60) * 8 * 1000) / p.airBitsPerS;
  return p.roundTripMs * p.rxMa + airMs * p.txMa;
}

export interface PowerChoice {
  mode: 'always' | 'duty';
  /** Average mA each mode would draw. */
  alwaysMa: number;
  dutyMa: number;
  /** Upload interval at which both modes draw the same, ms (Infinity when always connected never wins). */
  breakEvenMs: number;
}

export interface PowerInputs {
  uploadIntervalMs: number;
  sampleIntervalMs: number;
  payloadBytes: number;
  keepAliveS: number;
}

/** Pick the cheaper mode for these intervals under profile `p`, and say where the break-even lies. */
export function choosePowerMode(p: EnergyProfile, inputs: PowerInputs): PowerChoice {
  // Each mode draws a base current plus a charge per upload spread over the upload interval.
  // Always connected: connected idle with automatic light sleep and a PINGREQ per keepalive; an upload's bytes.
  const alwaysBase = p.connectedLightSleepMa + onlineUploadCharge(p, 2) / (inputs.keepAliveS * 1000);
  const alwaysPerUpload = onlineUploadCharge(p, inputs.payloadBytes);
  // Duty-cycled: deep sleep and a boot per sample; a full wake (join, handshake, round trips) per upload.
  const dutyBase = p.deepSleepMa + (p.bootMs * p.bootMa) / inputs.sampleIntervalMs;
  const dutyPerUpload = wakeCharge(p, inputs.payloadBytes, true);
  const alwaysMa = alwaysBase + alwaysPerUpload / inputs.uploadIntervalMs;
  const dutyMa = dutyBase + dutyPerUpload / inputs.uploadIntervalMs;
  // Duty-cycled draws less above the interval where the two meet, if its base is the lower one
  // (none beyond 7 days, the longest upload interval the config takes).
  const meet = Math.max(1000, (dutyPerUpload - alwaysPerUpload) / (alwaysBase - dutyBase));
  const breakEvenMs = alwaysBase > dutyBase && meet <= 7 * 86_400_000 ? Math.round(meet) : Infinity;
  return { mode: dutyMa < alwaysMa ? 'duty' : 'always', alwaysMa, dutyMa, breakEvenMs };
}
