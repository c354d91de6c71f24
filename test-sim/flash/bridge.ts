/** The flash bridge operations (hal/sim/wire.ts) over one SimFlash. */
import { HEADER, Op, bodyView, message, withBody } from '../../hal/sim/wire';
import { ok, type BridgeTable } from '../device/bridge';
import type { SimFlash } from './flash';
import type { EnergyMeter } from '../energy/meter';

export function flashBridge(flash: SimFlash, meter: EnergyMeter): BridgeTable {
  return {
    [Op.FlashInfo]: () => {
      const reply = message(Op.FlashInfo, 0, 8);
      reply.view.setUint32(HEADER, flash.byteLength, true);
      reply.view.setUint32(HEADER + 4, flash.blockSize, true);
      return reply.bytes;
    },
    [Op.FlashRead]: (m) => {
      const v = bodyView(m);
      return withBody(Op.FlashRead, 0, flash.read(v.getUint32(0, true), v.getUint32(4, true)));
    },
    [Op.FlashWrite]: (m) => {
      meter.flashWrite(m.body.length - 4);
      flash.write(bodyView(m).getUint32(0, true), m.body.subarray(4));
      return ok(m);
    },
    [Op.FlashErase]: (m) => {
      meter.flashErase();
      flash.erase(m.id);
      return ok(m);
    },
  };
}
