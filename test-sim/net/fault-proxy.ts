/**
 * A TCP proxy on loopback between simulated devices and the broker, which the
 * simulator switches between modes to inject network faults:
 *
 * - `pass`: bytes flow both ways (optionally `delayMs` later, in wall time);
 * - `drop`: new connections are reset at once; existing ones are reset;
 * - `blackhole`: nothing flows either way and nothing is closed: TCP stays
 *   half-open, only a keepalive timeout can notice; new connections hang.
 *
 * `reset()` sends a TCP RST on every open connection (a NAT or load balancer
 * dropping state).
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'drop' | 'blackhole';

export class FaultProxy {
  mode: ProxyMode = 'pass';
  delayMs = 0;
  readonly stats = { accepted: 0, refused: 0, resets: 0 };
  private server: net.Server;
  private pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  /** The listening port (kept after close, when it refuses connections). */
  port = 0;

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode === 'drop') this.reset();
  }

  reset(): void {
    for (const { client, upstream } of this.pairs) {
      this.stats.resets++;
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.mode === 'drop') {
      this.stats.refused++;
      client.resetAndDestroy();
      return;
    }
    this.stats.accepted++;
    client.on('error', () => {});
    const upstream = net.connect(this.target.port, this.target.host);
    upstream.on('error', () => client.destroy());
    const pair = { client, upstream };
    this.pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk) => {
        if (this.mode !== 'pass') return; // blackholed bytes are lost, as on a dead path
        if (this.delayMs > 0) setTimeout(() => to.destroyed || to.write(chunk), this.delayMs);
        else to.write(chunk);
      });
      from.on('close', () => {
        this.pairs.delete(pair);
        if (this.mode !== 'blackhole') to.destroy();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  }
}
