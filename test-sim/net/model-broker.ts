/**
 * An in-process stand-in for "TLS + broker" used only for fleets of hundreds of
 * devices, where a thousand real handshakes per reconnect wave would make the
 * run about the host's CPU rather than the devices' timing. It answers the MQTT
 * the firmware sends (CONNACK, PUBACK, SUBACK, PINGRESP; a newer connection with
 * the same client id closes the older one) and obeys the same fault switch as
 * the in-memory network. Single devices always talk to the real endpoint.
 */
import mqttPacket from 'mqtt-packet';
import type { OpenSecureSocket, SecureSocketEvents } from './streams';
import type { PathMode } from './memory';

interface Connection {
  events: SecureSocketEvents;
  parser: ReturnType<typeof mqttPacket.parser>;
  clientId?: string;
  open: boolean;
}

export class ModelBroker {
  mode: PathMode = 'pass';
  /** CONNACK return code to refuse connections with (fault connack-refused), or undefined to accept. */
  refuseCode: number | undefined;
  /** Stands in for the proxy's port in `World.resolve`. */
  readonly port = 1;
  readonly stats = { connects: 0, publishes: 0, refused: 0 };
  private connections = new Set<Connection>();
  private byClient = new Map<string, Connection>();

  constructor(private readonly onPublish?: (topic: string, payload: Uint8Array) => void) {}

  setMode(mode: PathMode): void {
    this.mode = mode;
    if (mode === 'drop') this.reset();
  }

  reset(): void {
    for (const c of [...this.connections]) this.drop(c, { category: 'closed', message: 'connection reset by peer' });
  }

  async close(): Promise<void> {
    this.reset();
  }

  readonly open: OpenSecureSocket = (_options, events) => {
    const connection: Connection = { events, parser: mqttPacket.parser({ protocolVersion: 4 }), open: true };
    connection.parser.on('packet', (packet) => this.receive(connection, packet));
    connection.parser.on('error', () => this.drop(connection, { category: 'closed', message: 'broker closed the connection' }));
    queueMicrotask(() => {
      if (!connection.open) return;
      if (this.mode === 'drop') {
        this.stats.refused++;
        connection.open = false;
        events.onError({ category: 'tcp', message: 'connection refused' });
      } else if (this.mode === 'pass') {
        this.connections.add(connection);
        events.onConnect({ alpn: 'x-amzn-mqtt-ca', resumed: false, protocol: 'TLSv1.2' });
      }
      // blackhole: nothing ever answers; the device's own deadline fires.
    });
    return {
      write: (bytes) => {
        if (connection.open && this.mode === 'pass') connection.parser.parse(Buffer.from(bytes));
      },
      close: () => {
        connection.open = false;
        this.forget(connection);
      },
    };
  };

  private receive(c: Connection, packet: mqttPacket.Packet): void {
    const reply = (p: Record<string, unknown>) =>
      queueMicrotask(() => c.open && this.mode === 'pass' && c.events.onData(new Uint8Array(mqttPacket.generate(p as never))));
    switch (packet.cmd) {
      case 'connect': {
        this.stats.connects++;
        const older = this.byClient.get(packet.clientId);
        if (older && older !== c) this.drop(older, { category: 'closed', message: 'peer closed the connection' });
        c.clientId = packet.clientId;
        this.byClient.set(packet.clientId, c);
        if (this.refuseCode !== undefined) {
          this.stats.refused++;
          reply({ cmd: 'connack', returnCode: this.refuseCode, sessionPresent: false });
          return;
        }
        reply({ cmd: 'connack', returnCode: 0, sessionPresent: false });
        return;
      }
      case 'publish':
        this.stats.publishes++;
        this.onPublish?.(packet.topic, new Uint8Array(packet.payload as Buffer));
        if (packet.qos === 1) reply({ cmd: 'puback', messageId: packet.messageId });
        return;
      case 'subscribe':
        reply({ cmd: 'suback', messageId: packet.messageId, granted: packet.subscriptions.map((s) => Math.min(s.qos, 1)) });
        return;
      case 'unsubscribe':
        reply({ cmd: 'unsuback', messageId: packet.messageId });
        return;
      case 'pingreq':
        reply({ cmd: 'pingresp' });
        return;
      case 'disconnect':
        this.drop(c, undefined);
        return;
      default:
    }
  }

  private drop(c: Connection, error: { category: 'closed' | 'tcp'; message: string } | undefined): void {
    if (!c.open) return;
    c.open = false;
    this.forget(c);
    if (error) queueMicrotask(() => c.events.onError(error));
  }

  private forget(c: Connection): void {
    this.connections.delete(c);
    if (c.clientId && this.byClient.get(c.clientId) === c) this.byClient.delete(c.clientId);
  }
}
