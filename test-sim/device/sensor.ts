/**
 * The simulated sensor: a temperature with a daily swing (21 °C ± 3) and a
 * little seeded noise, rounded to hundredths as a real sensor driver reports.
 */
import { HEADER, Op, message } from '../../hal/sim/wire';
import type { Scheduler } from '../clock/scheduler';
import type { BridgeTable } from './bridge';
import type { SeededRandom } from './random';

export class SensorModel {
  /** Readings taken: one per sample, whatever the app does with it (the bench counts samples by it). */
  reads = 0;

  constructor(private readonly scheduler: Scheduler, private readonly random: SeededRandom) {}

  /** Degrees Celsius at the current virtual time. */
  read(): number {
    const hours = this.scheduler.now / 3_600_000;
    const value = 21 + 3 * Math.sin((2 * Math.PI * hours) / 24) + (this.random.next() - 0.5) * 0.2;
    return Math.round(value * 100) / 100;
  }

  readonly bridge: BridgeTable = {
    [Op.SensorRead]: () => {
      this.reads++;
      const reply = message(Op.SensorRead, 0, 8);
      reply.view.setFloat64(HEADER, this.read(), true);
      return reply.bytes;
    },
  };
}
