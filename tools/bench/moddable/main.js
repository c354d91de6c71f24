/*
 * Runs the codec bench's encode loop (tools/bench/apps/mqtt-codec.ts, op
 * "encode": one QoS 1 PUBLISH with a 200-byte payload) in slices on a timer and
 * logs a JSON line before and after, so the host can read mcsim's CPU time
 * between them. Iterations come from mc/config (`iterations`).
 */
import Timer from "timer";
import config from "mc/config";
import { encode, sizeOf } from "firmware/mqtt/codec";

trace(JSON.stringify({ event: "calibrate.first-instruction" }) + "\n");
const iterations = Number(config.iterations ?? 200000);
const payload = new Uint8Array(200);
let x = 5 >>> 0;
for (let i = 0; i < payload.length; i++) {
	x ^= x << 13;
	x ^= x >>> 17;
	x ^= x << 5;
	payload[i] = x & 0xff;
}
const packet = { type: "publish", topic: "dt/fieldlink/bench-device/telemetry", payload, qos: 1, retain: false, dup: false, packetId: 1 };
const out = new Uint8Array(sizeOf(packet));
let sink = 0;
let done = 0;
Timer.set(() => {
	trace(JSON.stringify({ event: "calibrate.start", iterations }) + "\n");
	const slice = () => {
		const n = Math.min(5000, iterations - done);
		for (let i = 0; i < n; i++) sink ^= encode(packet, out);
		done += n;
		if (done < iterations) Timer.set(slice, 0);
		else trace(JSON.stringify({ event: "calibrate.done", iterations: done, sink }) + "\n");
	};
	slice();
}, 500);
