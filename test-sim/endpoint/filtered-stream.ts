import { Duplex } from 'node:stream';

/**
 * Where an inspector sends what it read: `pass` hands bytes on to the reader
 * of the stream, `reject` ends the connection after writing `farewell` (for
 * example a TLS alert) to the peer.
 */
export interface FilterSink {
  pass(bytes: Buffer): void;
  reject(farewell?: Buffer): void;
}

/**
 * A duplex over `socket` whose readable side carries only what `inspect`
 * passes on; writes go straight to `socket`, or to `outbound` when given
 * (which then writes to the socket itself). The endpoint puts one in front of
 * the TLS server (to see the plaintext handshake) and one in front of the
 * broker (to see MQTT packets) so a violation is answered before the next
 * layer ever reads the bytes.
 */
export class FilteredStream extends Duplex {
  private ended = false;

  constructor(
    private readonly socket: Duplex,
    inspect: (chunk: Buffer, sink: FilterSink) => void,
    private readonly outbound?: (chunk: Buffer) => void,
  ) {
    super({ allowHalfOpen: false });
    const sink: FilterSink = {
      pass: (bytes) => {
        if (!this.destroyed && !this.push(bytes)) socket.pause();
      },
      reject: (farewell) => {
        if (!socket.destroyed) closeGently(socket, farewell);
        this.destroy();
      },
    };
    socket.on('data', (chunk: Buffer) => inspect(chunk, sink));
    socket.on('end', () => {
      this.ended = true;
      this.push(null);
    });
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => {
      if (!this.ended) this.destroy();
    });
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.socket.destroyed) {
      callback();
      return;
    }
    if (this.outbound) {
      this.outbound(chunk);
      callback();
      return;
    }
    this.socket.write(chunk, callback);
  }

  /** Corked writes (mqtt-packet corks each packet) leave as one chunk, so one TLS record. */
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this._write(Buffer.concat(chunks.map((c) => c.chunk)), 'binary', callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) closeGently(this.socket);
    callback(error);
  }
}

/** Most time a peer gets to read our last bytes before the socket is torn down. */
const LINGER_MS = 1000;

/**
 * End with a FIN rather than a reset, so a final record (a TLS alert from us
 * or from the TLS server) reaches the peer even if it has unread data in flight.
 */
function closeGently(socket: Duplex, last?: Buffer): void {
  socket.removeAllListeners('data');
  socket.on('data', () => {}); // drain what the peer still sends so the close is not a reset
  socket.resume();
  socket.end(last);
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
