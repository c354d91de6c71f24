/*
 * Moddable's examples/network/aws/mqtt-aws (SDK 8.2.3, main.js) re-created for
 * the memory comparison of tools/moddable/memory.ts: the same client class,
 * options and traffic (subscribe, then two publishes a second, Date() and
 * Math.random(), over Moddable's JavaScript TLS, securesocket), pointed at the
 * local endpoint from mc/config (host, port, serverName, a client id), with the
 * XS machine's peaks logged as fieldlink's HAL logs its own (`memory.peaks`,
 * hal/moddable/native/memory): `boot` (to the client's creation), `handshake`
 * (TCP, TLS and CONNACK, to onReady), `session` (`sessionMs` of publishing).
 * The example has no join of its own (on ESP32 setup/network joins before main
 * runs; on mcsim the host's network is there), so it has no `join` phase.
 */
import Client from "mqtt";
import SecureSocket from "securesocket";
import Timer from "timer";
import Resource from "Resource";
import config from "mc/config";
import { peaks } from "hal/moddable/native/memory";

function phase(name) {
	const p = peaks(true);
	trace(JSON.stringify({ event: "memory.peaks", fields: { phase: name, chunkBytes: p.chunkBytes, slots: p.slots, slotBytes: p.slotBytes, stackSlots: p.stackSlots } }) + "\n");
}

let published = 0;

class SecureClient extends Client
{
	onReady()
	{
		phase("handshake");
		this.subscribe("moddable/with/aws/#");
		Timer.set(() =>
		{
			var message = Date();
			this.publish("moddable/with/aws/date", message);
			this.publish("moddable/with/aws/math", Math.random());
			published += 2;
		}, 0, 1000);
		Timer.set(() => {
			phase("session");
			trace(JSON.stringify({ event: "mqtt-aws.published", fields: { published } }) + "\n");
		}, Number(config.sessionMs));
	};

	onMessage(topic, body)
	{
		trace(`received "${topic}": ${String.fromArrayBuffer(body)}\n`);
	};

	onClose()
	{
		trace('lost connection to server\n');
	};
}

phase("boot");
new SecureClient ({
	host: config.endpoint,
	id: config.thing,
	timeout: 60_000,
	port: Number(config.port),
	Socket: SecureSocket,
	secure: {
		protocolVersion: 0x0303,
		trace: false,
		serverName: config.serverName,
		applicationLayerProtocolNegotiation: "x-amzn-mqtt-ca",
		certificate: new Resource("ca.der"),
		clientCertificates: [new Resource("device.der")],
		clientKey: new Resource("device.key.der")
	},
});
