/**
 * The local world's network, in memory: TCP-like connections between the
 * simulated devices and the local endpoint, with the fault switch the
 * scenarios drive. Each connection is a pair of Node Duplex streams (Node's
 * `tls` and the endpoint run over them as over sockets); every chunk written
 * on one end reaches the other as a scheduler task `latencyMs` of virtual time
 * later, in order, and every byte moved `touch()`es the scheduler so it lets
 * Node process the bytes before its clock moves on (clock/scheduler.ts).
 *
 * Path modes (the scenario faults broker-down, blackhole, tcp-reset):
 * - `pass`: bytes flow both ways;
 * - `drop`: new connections are refused, open ones are reset (RST both ways);
 * - `blackhole`: nothing flows either way and nothing is closed: chunks in
 *   flight are lost, a connect never completes, open connections go half-open
 *   (only a keepalive can notice).
 * `reset()` resets every open connection at once (a NAT dropping its state).
 *
 * A FIN (`end()`) reaches the peer after the data before it; a destroy without
 * `end()` reaches it as a reset (ECONNRESET).
 */
import { Duplex } from 'node:stream';
import type { Scheduler } from '../clock/scheduler';

export type PathMode = 'pass' | 'drop' | 'blackhole';

/** The error a refused or reset connection reports, shaped as Node's socket errors. */
export function socketError(code: 'ECONNREFUSED' | 'ECONNRESET', message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, errno: code === 'ECONNRESET' ? -104 : -111, syscall: 'read' });
}

type Side = 0 | 1;

class ConnectionEnd extends Duplex {
  constructor(private readonly connection: Connection, private readonly side: Side) {
    super({ allowHalfOpen: true });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.connection.send(this.side, chunk);
    callback();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.connection.send(this.side, Buffer.concat(chunks.map((c) => c.chunk)));
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.connection.fin(this.side);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.connection.abort(this.side);
    callback(error);
  }
}

class Connection {
  readonly ends: [ConnectionEnd, ConnectionEnd];
  /** A side that sent FIN or was torn down sends nothing more. */
  private done: [boolean, boolean] = [false, false];
  private dead = false;

  constructor(private readonly network: MemoryNetwork) {
    this.ends = [new ConnectionEnd(this, 0), new ConnectionEnd(this, 1)];
  }

  send(from: Side, chunk: Buffer): void {
    this.network.scheduler.touch();
    if (this.dead || this.done[from] || this.network.mode !== 'pass') return;
    const bytes = Buffer.from(chunk);
    this.network.carry(() => this.arrive(from, (to) => to.push(bytes)));
  }

  fin(from: Side): void {
    this.network.scheduler.touch();
    if (this.dead || this.done[from]) return;
    this.done[from] = true;
    if (this.network.mode !== 'pass') return;
    this.network.carry(() => this.arrive(from, (to) => to.push(null)));
  }

  /** `from` was destroyed: unless it had finished cleanly, the peer sees a reset. */
  abort(from: Side): void {
    this.network.scheduler.touch();
    if (this.dead) return;
    const clean = this.done[from];
    this.done[from] = true;
    if (this.done[0] && this.done[1]) this.forget();
    if (clean || this.network.mode !== 'pass') return;
    this.network.carry(() => this.arrive(from, (to) => to.destroy(socketError('ECONNRESET', 'connection reset by peer'))));
  }

  /** RST both ways now (a middlebox dropping the connection). */
  reset(): void {
    if (this.dead) return;
    this.forget();
    this.network.scheduler.touch();
    for (const end of this.ends) if (!end.destroyed) end.destroy(socketError('ECONNRESET', 'connection reset'));
  }

  private arrive(from: Side, effect: (to: ConnectionEnd) => void): void {
    const to = this.ends[from === 0 ? 1 : 0];
    if (this.network.mode !== 'pass' || to.destroyed) return;
    this.network.scheduler.touch();
    effect(to);
  }

  /** The connection never reached the other side (a SYN into a blackhole): nothing it sends goes anywhere. */
  lose(): void {
    this.dead = true;
  }

  private forget(): void {
    this.dead = true;
    this.network.connections.delete(this);
  }
}

export interface MemoryNetworkOptions {
  /** One-way latency of every chunk, virtual ms. */
  latencyMs: number;
  /** Takes the endpoint's end of each new connection. */
  accept(socket: Duplex): void;
}

export class MemoryNetwork {
  mode: PathMode = 'pass';
  readonly stats = { accepted: 0, refused: 0, resets: 0 };
  /** @internal open connections */
  readonly connections = new Set<Connection>();
  private closed = false;

  constructor(readonly scheduler: Scheduler, private readonly options: MemoryNetworkOptions) {}

  /**
   * A device opens a connection: its end, already connected (the TCP handshake
   * is part of the modelled TLS handshake time), or the refusal to report.
   */
  connect(): Duplex | NodeJS.ErrnoException {
    if (this.closed || this.mode === 'drop') {
      this.stats.refused++;
      return socketError('ECONNREFUSED', 'connection refused');
    }
    const connection = new Connection(this);
    if (this.mode === 'blackhole') {
      connection.lose(); // the SYN is lost: nothing ever answers
      return connection.ends[0];
    }
    this.stats.accepted++;
    this.connections.add(connection);
    this.options.accept(connection.ends[1]);
    return connection.ends[0];
  }

  setMode(mode: PathMode): void {
    this.mode = mode;
    if (mode === 'drop') this.reset();
  }

  reset(): void {
    for (const connection of [...this.connections]) {
      this.stats.resets++;
      connection.reset();
    }
  }

  /** The endpoint is gone: open connections are reset, new ones refused. */
  close(): void {
    this.closed = true;
    this.reset();
  }

  /** @internal deliver `effect` one latency from now */
  carry(effect: () => void): void {
    this.scheduler.after(this.options.latencyMs, effect);
  }
}
