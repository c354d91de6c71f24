/**
 * Moddable modules this HAL uses that have no typings in @moddable/typings or in
 * the SDK's typings/ folder. Each declaration states only what the HAL calls,
 * copied from the module's source in SDK 8.2.3.
 */

/**
 * `modules/crypt/etc/rng.{js,c}`, included by `modules/crypt/tls_common.json`:
 * the generator Moddable's TLS uses for its own randoms (RC4 keystream seeded
 * from `c_rand()`, which is `esp_random()` — the hardware RNG — on ESP32).
 */
declare module 'rng' {
  const RNG: {
    /** `n` random bytes. */
    get(n: number): ArrayBuffer;
    init(seed?: ArrayBuffer): void;
  };
  export default RNG;
}
