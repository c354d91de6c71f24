/**
 * What each scenario fault kind (scenarios/scenario.ts `FAULT_KINDS`) does to
 * the simulated world, one entry per kind. Adding a kind: name it and document
 * it in `FAULT_KINDS`, then give it an entry here (the compiler insists).
 */
import type { Scheduler } from '../clock/scheduler';
import type { DeviceHost } from '../device/host';
import type { HostileMode } from '../endpoint/hostile';
import type { World } from '../net/world';
import { UsageError, type Fault, type FaultKind } from '../scenarios/scenario';

export interface FaultTarget {
  scheduler: Scheduler;
  /** The device the fault names (`device`, default 0). */
  device: DeviceHost;
  world: World;
}

/** Helpers every fault gets: run at `at`, or hold from `at` for `for`. */
interface FaultTools extends FaultTarget {
  at(action: () => void | Promise<void>): void;
  during(start: () => void, end: () => void): void;
  /** The fault switch in front of the broker; a usage error when this world has none. */
  proxy(): NonNullable<World['proxy']>;
}

type FaultAction = (fault: Fault, tools: FaultTools) => void;

const ACTIONS: Readonly<Record<FaultKind, FaultAction>> = {
  'wifi-down': (_f, t) => t.during(() => t.device.radio.setAccessPoint(false), () => t.device.radio.setAccessPoint(true)),
  'power-cut': (f, t) => t.at(() => t.device.lifecycle.powerCut(f.forMs)),
  reset: (_f, t) => t.at(() => t.device.lifecycle.reset()),
  'sleep-fail': (_f, t) => t.at(() => t.device.lifecycle.failNextSleep()),
  'broker-down': (_f, t) => t.during(() => t.proxy().setMode('drop'), () => t.proxy().setMode('pass')),
  blackhole: (_f, t) => t.during(() => t.proxy().setMode('blackhole'), () => t.proxy().setMode('pass')),
  'tcp-reset': (_f, t) => t.at(() => t.proxy().reset()),
  'puback-reorder': (f, t) => hostile(f, t),
  'puback-withhold': (f, t) => hostile(f, t),
  'qos2-flood': (f, t) => hostile(f, t),
  'packet-before-connack': (f, t) => hostile(f, t),
  'time-skew': (f, t) => {
    const lie = { skewMs: f.skewMs ?? 0, server: f.server };
    t.during(() => { t.device.clock.lie = lie; }, () => { t.device.clock.lie = undefined; });
  },
  'flash-bitflip': (_f, t) => t.at(() => { t.device.flipFlashBit(); }),
  'dns-down': (_f, t) => t.during(() => { t.device.net.dnsDown = true; }, () => { t.device.net.dnsDown = false; }),
  'connack-refused': (f, t) => {
    const model = t.world.model;
    if (model) return t.during(() => { model.refuseCode = f.code ?? 3; }, () => { model.refuseCode = undefined; });
    const endpoint = t.world.endpoint;
    if (!endpoint) throw new UsageError('fault connack-refused needs the built-in local endpoint');
    const original = endpoint.broker.authenticate;
    t.during(() => {
      endpoint.broker.authenticate = (_client, _user, _password, done) => {
        const error = Object.assign(new Error('refused by scenario'), { returnCode: f.code ?? 3 });
        done(error as never, false);
      };
    }, () => { endpoint.broker.authenticate = original; });
  },
};

/** The hostile broker's mode of the same name, on for the fault's span (endpoint/hostile.ts). */
function hostile(fault: Fault, t: FaultTools): void {
  const broker = t.world.hostile;
  if (!broker) throw new UsageError(`fault ${fault.kind} needs the built-in local endpoint (it acts between TLS and the broker)`);
  const mode = fault.kind as HostileMode;
  t.during(() => broker.set(mode, true), () => broker.set(mode, false));
}

/** Puts `fault` on the scheduler. Throws UsageError when the world cannot host it. */
export function scheduleFault(fault: Fault, target: FaultTarget): void {
  const { scheduler, world } = target;
  ACTIONS[fault.kind](fault, {
    ...target,
    at: (action) => { scheduler.at(fault.atMs, action); },
    during: (start, end) => {
      scheduler.at(fault.atMs, start);
      scheduler.at(fault.atMs + fault.forMs, end);
    },
    proxy: () => {
      if (!world.proxy) throw new UsageError(`fault ${fault.kind} needs the built-in local endpoint (it drives the proxy in front of it)`);
      return world.proxy;
    },
  });
}
