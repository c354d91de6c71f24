/**
 * The link supervisor: drives Wi-Fi, time sync, TLS and MQTT through the state
 * table in states.ts, and applies `decide()` (decide.ts) after a failure.
 *
 * Contracts:
 * - It acts only on moves the state table allows; an illegal move is logged and ignored.
 * - Every transition is logged as `link.transition` {from, event, to}.
 * - After a failure it waits what `decide()` says; the radio is off for long
 *   waits. Two CONNECTs are never closer than `minConnectGapMs` (AWS: one per
 *   second per client id).
 * - The clock is synced through the Timekeeper before TLS whenever it asks for
 *   it (never set, below the floor, daily, or after a certificate date
 *   failure); a TLS handshake confirms the time as last-known-good.
 * - `stop(onDone)` says goodbye when Online: MQTT DISCONNECT, then the
 *   stream's graceful `end` (close_notify, bounded wait), and only then the
 *   radio off; anywhere else it aborts at once. `onDone` runs once, after.
 *   A goodbye from Online resets the failure counters (the session worked).
 */
import type { Hal, LinkError, SecureStream, WifiHint } from '../../hal/types';
import type { CloseReason, MqttClient } from '../mqtt/client';
import type { Timekeeper } from '../time/timekeeper';
import { elapsed } from '../util/time';
import { classifyClose, classifyLinkError, type Failure } from './classify';
import type { LinkConfig } from './config';
import { DEFAULT_POLICY, decide, freshCounters, type FailureCounters, type LinkPolicy } from './decide';
import { nextState } from '../util/states';
import { TRANSITIONS, type LinkEvent, type LinkState } from './states';

export interface SupervisorHooks {
  onOnline?(): void;
  onOffline?(failure: Failure): void;
  /**
   * A backoff of `delayMs` is about to start, the radio already off. Return true
   * to take over the wait (a duty-cycled device deep-sleeps through it, carrying
   * `exportState()` in RTC memory, and calls `stop`); the supervisor then sets no timer.
   */
  onBackoff?(delayMs: number): boolean;
}

/** What the supervisor needs to carry across a deep sleep (RTC memory). */
export interface SupervisorState {
  counters: FailureCounters;
  hint: WifiHint | null;
}

export class LinkSupervisor {
  state: LinkState = 'Boot';
  /** Counters for reports. */
  readonly stats = { connects: 0, failures: 0, backoffMs: 0, transitions: 0 };
  private readonly policy: LinkPolicy;
  private counters: FailureCounters = freshCounters();
  private stream: SecureStream | undefined;
  private hint: WifiHint | undefined;
  private onlineSince: number | undefined;
  private lastConnect: number | undefined;
  private timer: number | undefined;
  private wifiUp = false;
  private stopping = false;

  constructor(
    private readonly hal: Hal,
    private readonly config: LinkConfig,
    private readonly client: MqttClient,
    private readonly time: Timekeeper,
    private readonly hooks: SupervisorHooks = {},
    policy: LinkPolicy = DEFAULT_POLICY,
  ) {
    // config.backoff is resolveConfig's: an impossible schedule never gets here.
    this.policy = { ...policy, network: { ...policy.network, ...config.backoff } };
  }

  start(): void {
    this.stopping = false;
    this.move('Start');
  }

  /**
   * Done with the link. Online: DISCONNECT, graceful end of the stream, then
   * radio off. Anywhere else: close what is open, radio off. `onDone` follows
   * once, on this turn or after the goodbye.
   */
  stop(onDone: () => void = () => {}): void {
    if (this.stopping) return;
    this.stopping = true;
    this.cancelWait();
    const stream = this.stream;
    this.stream = undefined;
    const finish = () => {
      this.radioOff();
      onDone();
    };
    if (this.state === 'Online' && stream) {
      // A session the device ends itself worked: the next failure, hours or days later, starts the schedules over.
      this.counters = freshCounters();
      this.client.disconnect(); // DISCONNECT queued; the client leaves the stream to us
      this.move('Stop');
      stream.end(() => {
        this.move('Closed');
        finish();
      });
      return;
    }
    if (this.client.connected || this.state === 'MqttConnect') this.client.disconnect();
    stream?.close();
    this.move('Stop');
    finish();
  }

  /** The counters and hints a deep sleep must not lose. */
  exportState(): SupervisorState {
    return { counters: this.counters, hint: this.hint ?? null };
  }

  importState(state: SupervisorState): void {
    this.counters = state.counters;
    this.hint = state.hint ?? undefined;
  }

  /** The MQTT client reports its connection ended (wire it to the client's onClosed). */
  mqttClosed(reason: CloseReason): void {
    if (this.stopping) return;
    this.stream = undefined; // the client closed it
    const failure = classifyClose(reason);
    if (this.state === 'MqttConnect') this.fail('MqttFailed', failure, reason.message);
    else if (this.state === 'Online') this.fail('LinkLost', failure, reason.message);
  }

  /** The MQTT client reports CONNACK accepted (wire it to the client's onConnected). */
  mqttConnected(): void {
    if (this.move('MqttUp')) {
      this.onlineSince = this.hal.clock.now();
      this.hooks.onOnline?.();
    }
  }

  private move(event: LinkEvent): boolean {
    const from = this.state;
    const to = nextState<LinkState, LinkEvent>(TRANSITIONS, from, event);
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
      case 'WifiJoin':
        if (this.wifiUp) {
          this.move('WifiUp');
          return;
        }
        this.hal.wifi.join({
          hint: this.hint,
          onJoined: (hint) => {
            if (this.stopping) return;
            this.hint = hint;
            this.wifiUp = true;
            this.counters.attempts.wifi = 0;
            this.move('WifiUp');
          },
          onError: (error) => {
            if (!this.stopping) this.fail('WifiFailed', classifyLinkError(error), error.message);
          },
          onLost: (error) => this.wifiLost(error),
        });
        return;
      case 'TimeSync':
        if (!this.time.needsSync()) {
          this.move('TimeSynced');
          return;
        }
        this.time.sync((failure) => {
          if (this.state !== 'TimeSync' || this.stopping) return;
          if (failure && this.time.usable()) this.hal.log.event('time.kept', { kind: failure.kind });
          else if (failure) return this.fail('TimeFailed', failure.link && failure.kind === 'unreachable' ? classifyLinkError(failure.link) : 'time', failure.message);
          this.move('TimeSynced');
        });
        return;
      case 'TlsConnect':
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
        if (this.stream !== stream || !this.move('TlsUp')) return;
        this.time.confirm(); // certificate dates held at this clock
        this.client.start(stream);
      },
      onData: (bytes) => {
        if (this.stream === stream) this.client.receive(bytes);
      },
      onError: (error) => {
        if (this.stream !== stream) return;
        if (this.state === 'TlsConnect') {
          this.stream = undefined;
          this.fail('TlsFailed', classifyLinkError(error), error.message);
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
    // With MQTT up the client's close moves the link (MqttFailed, LinkLost) with the `wifi` class.
    if (this.state === 'Online' || this.state === 'MqttConnect') this.client.streamFailed(error);
    else if (this.state === 'TimeSync' || this.state === 'TlsConnect') this.fail('WifiLost', 'wifi', error.message);
  }

  private fail(event: LinkEvent, failure: Failure, message: string): void {
    this.stats.failures++;
    const onlineMs = this.state === 'Online' && this.onlineSince !== undefined ? elapsed(this.hal.clock.now(), this.onlineSince) : undefined;
    if (!this.move(event)) return;
    this.onlineSince = undefined;
    const d = decide(failure, this.counters, this.policy, { onlineMs, random32: this.hal.entropy.random32() });
    this.counters = d.counters;
    if (d.resyncTime) this.time.distrust();
    this.stats.backoffMs += d.delayMs;
    if (d.report) {
      const takeover = d.report.takeover;
      this.hal.log.event('link.configuration-fault', {
        failure,
        message: takeover ? `the broker keeps closing connections right after they open: another device may be using client id "${this.config.thing}"` : message,
        check: `${takeover ? 'that no other device uses this client id' : 'the device certificate and key, the CA, the endpoint name, and the thing policy'}; retrying slowly`,
      });
    }
    this.hal.log.event('link.backoff', { failure, schedule: d.schedule, attempt: d.counters.attempts[d.schedule], delayMs: d.delayMs });
    if (onlineMs !== undefined) this.hooks.onOffline?.(failure);
    if (d.radioOff) this.radioOff();
    if (!this.wifiUp && this.hooks.onBackoff?.(d.delayMs)) return;
    this.wait(d.delayMs, () => this.move('BackoffDone'));
  }

  private radioOff(): void {
    if (this.wifiUp) {
      this.wifiUp = false;
      this.hal.wifi.leave();
    }
  }

  private cancelWait(): void {
    if (this.timer !== undefined) this.hal.timers.clear(this.timer);
    this.timer = undefined;
  }

  private wait(ms: number, then: () => void): void {
    this.cancelWait();
    this.timer = this.hal.timers.set(() => {
      this.timer = undefined;
      then();
    }, ms);
  }
}
