/** Names shared by the provisioning tool, the local endpoint and tests. */

/** The endpoint name the local endpoint answers to unless told otherwise. */
export const DEFAULT_ENDPOINT_NAME = 'local-ats.iot.sim-local-1.amazonaws.com';
/** Where `dev-pki` writes and where the endpoint CLI looks, relative to the repository root. */
export const DEFAULT_DEV_PKI_DIR = '.state/dev-pki';
/** The ALPN protocol AWS IoT Core requires for MQTT with client certificates on port 443. */
export const AWS_MQTT_ALPN = 'x-amzn-mqtt-ca';
/**
 * The simulator's wall clock at virtual time 0 (test-sim/sim.ts) and this firmware's default build
 * time (firmware/app/config.ts `buildTimeMs`). Every dev PKI is valid from it at the latest, so a
 * simulated device whose honest clock starts there passes the device's own certificate date check.
 */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);
