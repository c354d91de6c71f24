/**
 * Splits an MQTT byte stream into whole control packets without changing a
 * byte, so the endpoint can judge each packet and pass the original bytes on
 * to the broker. Fixed header: MQTT 3.1.1 2.2 (type and flags, then the
 * Remaining Length as 1..4 bytes of 7-bit groups, [MQTT-2.2.3]).
 */
import { parser, type Packet } from 'mqtt-packet';

export class MqttFramer {
  private pending: Buffer = Buffer.alloc(0);

  /** Whole packets completed by `chunk`; throws on a malformed Remaining Length. */
  feed(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Buffer[] = [];
    for (;;) {
      const size = frameSize(this.pending);
      if (size === undefined || this.pending.length < size) break;
      frames.push(this.pending.subarray(0, size));
      this.pending = this.pending.subarray(size);
    }
    return frames;
  }
}

/** Total length of the packet at the start of `bytes`, or `undefined` if the header is incomplete. */
export function frameSize(bytes: Buffer): number | undefined {
  let remaining = 0;
  for (let i = 1; i <= 4; i++) {
    if (bytes.length <= i) return undefined;
    const b = bytes[i];
    remaining += (b & 0x7f) * 128 ** (i - 1);
    if ((b & 0x80) === 0) return 1 + i + remaining;
  }
  throw new RangeError('malformed Remaining Length');
}

/** Decodes one whole packet with mqtt-packet; the parser keeps the protocol version a CONNECT announced. */
export class PacketDecoder {
  private readonly parser = parser();
  private decoded: Packet | undefined;
  private failure: Error | undefined;

  constructor() {
    this.parser.on('packet', (packet) => {
      this.decoded = packet;
    });
    this.parser.on('error', (error: Error) => {
      this.failure = error;
    });
  }

  decode(frame: Buffer): Packet {
    this.decoded = undefined;
    this.failure = undefined;
    this.parser.parse(frame);
    if (this.failure) throw this.failure;
    if (!this.decoded) throw new Error('incomplete MQTT packet');
    return this.decoded;
  }
}
