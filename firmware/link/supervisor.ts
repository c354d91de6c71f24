/**
 * The link supervisor: drives Wi-Fi, time sync, TLS and MQTT through the state
 * table in states.ts, and decides when to try again after a failure.
 *
 * Contracts:
 * - It acts only on moves `next()` allows; an illegal move is logged and ignored.
 * - Every transition is logged as `link.transition` {from, event, to}.
 * - After a failure it waits a full-jitter backoff from the schedule of the
 *   failure's class; the attempt count resets only after the link stayed up
 *   `stableMs`. Two CONNECTs are never closer than `minConnectGapMs` (AWS: one
 *   per second per client id). A configuration fault is logged once until the
 *   link has been up `stableMs` again.
 * - While a backoff of at least `radioOffMs` runs, the radio is off.
 * - A broker that closes `takeoverStreak` connections in a row before they
 *   became stable is treated as a configuration fault (most often a second
 *   device using the same client id: each CONNECT disconnects the other), so
 *   two such devices settle into the long schedule instead of a fight.
 */
import type { Hal, LinkError, SecureStream, WifiHint } from '../../hal/types';
import type { DeviceConfig } from '../app/config';
import type { CloseReason, MqttClient } from '../mqtt/client';
import { elapsed } from '../util/time';
import { createBackoff, nextDelay, resetBackoff, type Backoff, type BackoffPolicy } from './backoff';
import { classifyClose, classifyLinkError, isConfigurationFault, type Failure } from './classify';
import { LinkEvent, LinkState, next } from './states';

export interface SupervisorPolicy {
  network: BackoffPolicy;
  wifi: BackoffPolicy;
  configuration: BackoffPolicy;
  /** Uptime after which the attempt counters reset. */
  stableMs: number;
  minConnectGapMs: number;
  radioOffMs: number;
  tlsTimeoutMs: number;
  takeoverStreak: number;
}

export const DEFAULT_POLICY: SupervisorPolicy = Object.freeze({
  network: Object.freeze({ baseMs: 1000, capMs: 5 * 60_000, floorMs: 1000 }),
  wifi: Object.freeze({ baseMs: 2000, capMs: 10 * 60_000, floorMs: 1000 }),
  configuration: Object.freeze({ baseMs: 10 * 60_000, capMs: 6 * 3_600_000, floorMs: 10 * 60_000 }),
  stableMs: 30_000,
  minConnectGapMs: 1000,
  radioOffMs: 5000,
  tlsTimeoutMs: 15_000,
  takeoverStreak: 3,
});

export interface SupervisorHooks {
  onOnline?(): void;
  onOffline?(failure: Failure): void;
  /**
   * A backoff of `delayMs` is about to start, the radio already off. Return true
   * to take over the wait (a duty-cycled device deep-sleeps through it and
   * carries `exportState()` over in RTC memory); the supervisor then sets no timer.
   */
  onBackoff?(delayMs: number): boolean;
}

/** What the supervisor needs to carry across a deep sleep (RTC memory). */
export interface SupervisorState {
  attempts: [network: number, wifi: number, configuration: number];
  shortLived: number;
  reportedFault: Failure | null;
  hint: WifiHint | null;
}

export class LinkSupervisor {
  state: LinkState = LinkState.Boot;
  /** Counters for reports. */
  readonly stats = { connects: 0, failures: 0, backoffMs: 0, transitions: 0 };
  private readonly backoffs: Record<'network' | 'wifi' | 'configuration', Backoff>;
  private stream: SecureStream | undefined;
  private hint: WifiHint | undefined;
  private onlineSince: number | undefined;
  private lastConnect: number | undefined;
  private reportedFault: Failure | undefined;
  private timer: number | undefined;
  private wifiUp = false;
  /** Connections in a row that the broker closed before they were stable. */
  private shortLived = 0;
  private stopping = false;

  constructor(
    private readonly hal: Hal,
    private readonly config: DeviceConfig,
    private readonly client: MqttClient,
    private readonly hooks: SupervisorHooks = {},
    private readonly policy: SupervisorPolicy = DEFAULT_POLICY,
  ) {
    this.backoffs = {
      network: createBackoff({ ...policy.network, ...config.backoff }),
      wifi: createBackoff(policy.wifi),
      configuration: createBackoff(policy.configuration),
    };
  }

  start(): void {
    this.stopping = false;
    this.move(LinkEvent.Start);
  }

  /** Disconnect cleanly (DISCONNECT, radio off) and rest in Sleep until `wake()`. */
  stop(): void {
    this.stopping = true;
    if (this.timer !== undefined) this.hal.timers.clear(this.timer);
    this.timer = undefined;
    if (this.client.connected) this.client.disconnect();
    const stream = this.stream;
    this.stream = undefined;
    stream?.close();
    if (this.wifiUp) {
      this.wifiUp = false;
      this.hal.wifi.leave();
    }
    this.move(LinkEvent.Idle);
  }

  /** Leave Sleep and connect again. */
  wake(): void {
    this.stopping = false;
    this.move(LinkEvent.Wake);
  }

  /** The counters and hints a deep sleep must not lose. */
  exportState(): SupervisorState {
    const b = this.backoffs;
    return {
      attempts: [b.network.attempt, b.wifi.attempt, b.configuration.attempt],
      shortLived: this.shortLived,
      reportedFault: this.reportedFault ?? null,
      hint: this.hint ?? null,
    };
  }

  importState(state: SupervisorState): void {
    [this.backoffs.network.attempt, this.backoffs.wifi.attempt, this.backoffs.configuration.attempt] = state.attempts;
    this.shortLived = state.shortLived;
    this.reportedFault = state.reportedFault ?? undefined;
    this.hint = state.hint ?? undefined;
  }

  /** The MQTT client reports its connection ended (wire it to the client's onClosed). */
  mqttClosed(reason: CloseReason): void {
    this.stream = undefined;
    if (this.stopping) return;
    const failure = classifyClose(reason);
    if (this.state === LinkState.MqttConnect) this.fail(LinkEvent.MqttFailed, failure, reason.message);
    else if (this.state === LinkState.Online) this.fail(LinkEvent.LinkLost, failure, reason.message);
  }

  /** The MQTT client reports CONNACK accepted (wire it to the client's onConnected). */
  mqttConnected(): void {
    if (this.move(LinkEvent.MqttUp)) {
      this.onlineSince = this.hal.clock.now();
      this.hooks.onOnline?.();
    }
  }

  private move(event: LinkEvent): boolean {
    const from = this.state;
    const to = next(from, event);
    if (to === undefined) {
      this.hal.log.event('link.illegal', { state: from, event });
      return false;
    }
    this.state = to;
    this.stats.transitions++;
    this.hal.log.event('link.transition', { from, event, to });
    this.enter(to);
    return true;
  }

  private enter(state: LinkState): void {
    switch (state) {
      case LinkState.WifiJoin:
        if (this.wifiUp) {
          this.move(LinkEvent.WifiUp);
          return;
        }
        this.hal.wifi.join({
          hint: this.hint,
          onJoined: (hint) => {
            this.hint = hint;
            this.wifiUp = true;
            resetBackoff(this.backoffs.wifi);
            this.move(LinkEvent.WifiUp);
          },
          onError: (error) => this.fail(LinkEvent.WifiFailed, classifyLinkError(error), error.message),
          onLost: (error) => this.wifiLost(error),
        });
        return;
      case LinkState.TimeSync:
        if (this.hal.clock.wallTime() !== undefined) {
          this.move(LinkEvent.TimeSynced);
          return;
        }
        this.hal.clock.query(this.config.timeServers[0], (result) => {
          if (this.state !== LinkState.TimeSync) return;
          if ('category' in result) {
            this.fail(LinkEvent.TimeFailed, classifyLinkError(result), result.message);
            return;
          }
          this.hal.clock.setWallTime(result.wallMs);
          this.move(LinkEvent.TimeSynced);
        });
        return;
      case LinkState.TlsConnect:
        this.connect();
        return;
      default:
        return;
    }
  }

  private connect(): void {
    const now = this.hal.clock.now();
    if (this.lastConnect !== undefined && elapsed(now, this.lastConnect) < this.policy.minConnectGapMs) {
      this.wait(this.policy.minConnectGapMs - elapsed(now, this.lastConnect), () => this.connect());
      return;
    }
    this.lastConnect = now;
    this.stats.connects++;
    const { endpoint, port, serverName, alpn, credentials } = this.config;
    const stream = this.hal.network.openSecure({
      host: endpoint,
      port,
      serverName,
      alpn,
      credentials,
      timeoutMs: this.policy.tlsTimeoutMs,
      onConnect: () => {
        if (this.stream !== stream || !this.move(LinkEvent.TlsUp)) return;
        this.client.start(stream);
      },
      onData: (bytes) => {
        if (this.stream === stream) this.client.receive(bytes);
      },
      onError: (error) => {
        if (this.stream !== stream) return;
        if (this.state === LinkState.TlsConnect) {
          this.stream = undefined;
          this.fail(LinkEvent.TlsFailed, classifyLinkError(error), error.message);
        } else {
          this.client.streamFailed(error);
        }
      },
    });
    this.stream = stream;
  }

  private wifiLost(error: LinkError): void {
    this.wifiUp = false;
    if (this.stopping) return;
    const stream = this.stream;
    this.stream = undefined;
    stream?.close();
    if (this.state === LinkState.Online || this.state === LinkState.MqttConnect) {
      this.client.streamFailed(error);
    }
    if (this.state !== LinkState.Backoff && this.state !== LinkState.Sleep && this.state !== LinkState.WifiJoin) {
      this.fail(LinkEvent.WifiLost, 'wifi', error.message);
    }
  }

  private fail(event: LinkEvent, failure: Failure, message: string): void {
    this.stats.failures++;
    const wasOnline = this.state === LinkState.Online;
    if (!this.move(event)) return;
    const now = this.hal.clock.now();
    const stable = wasOnline && this.onlineSince !== undefined && elapsed(now, this.onlineSince) >= this.policy.stableMs;
    if (stable) {
      resetBackoff(this.backoffs.network);
      resetBackoff(this.backoffs.configuration);
      this.shortLived = 0;
      this.reportedFault = undefined;
    } else if (wasOnline && failure === 'broker-closed') {
      this.shortLived++;
    }
    this.onlineSince = undefined;
    const takeover = failure === 'broker-closed' && this.shortLived >= this.policy.takeoverStreak;
    if (takeover) {
      message = `the broker keeps closing connections right after they open: another device may be using client id "${this.config.thing}"`;
    }
    const configurationFault = isConfigurationFault(failure) || takeover;
    const schedule = configurationFault ? 'configuration' : failure === 'wifi' ? 'wifi' : 'network';
    const delay = nextDelay(this.backoffs[schedule], this.hal.entropy.random32());
    this.stats.backoffMs += delay;
    if (configurationFault) {
      if (this.reportedFault !== failure) {
        this.reportedFault = failure;
        this.hal.log.event('link.configuration-fault', {
          failure,
          message,
          check: takeover
            ? 'that no other device uses this client id; retrying slowly'
            : 'the device certificate and key, the CA, the endpoint name, and the thing policy; retrying slowly',
        });
      }
    }
    this.hal.log.event('link.backoff', { failure, schedule, attempt: this.backoffs[schedule].attempt, delayMs: delay });
    if (wasOnline) this.hooks.onOffline?.(failure);
    if (delay >= this.policy.radioOffMs && this.wifiUp) {
      this.wifiUp = false;
      this.hal.wifi.leave();
    }
    if (!this.wifiUp && this.hooks.onBackoff?.(delay)) return;
    this.wait(delay, () => this.move(LinkEvent.BackoffDone));
  }

  private wait(ms: number, then: () => void): void {
    if (this.timer !== undefined) this.hal.timers.clear(this.timer);
    this.timer = this.hal.timers.set(() => {
      this.timer = undefined;
      then();
    }, ms);
  }
}
