/*
 * hal/moddable/native/memory: the XS machine's own peak counters, for the
 * memory budget of a wake (README, "Memory"). The same C on every platform.
 *
 * XS keeps, in every build, the largest chunk heap in use (peakChunksSize,
 * bytes, garbage not yet collected included) and the most slots in use
 * (peakHeapCount); instrumented builds (mxInstrument: debug and -i builds) also
 * keep the deepest stack (stackPeak). peaks(reset) reads them and, with reset,
 * starts the next period from what is in use now, so a HAL can report the
 * peaks of each phase of a wake.
 */

#include "xsAll.h"
#include "xs.h"
#include "mc.xs.h"			/* xsID_ values */

void xs_fieldlink_memory_peaks(xsMachine *the)
{
	txInteger chunk = (txInteger)the->peakChunksSize;
	txInteger slots = (txInteger)the->peakHeapCount;
#ifdef mxInstrument
	txInteger stack = (txInteger)(the->stackTop - the->stackPeak);
#endif
	txBoolean reset = xsToBoolean(xsArg(0));

	xsVars(1);
	xsResult = xsNewObject();
	xsSet(xsResult, xsID_chunkBytes, xsInteger(chunk));
	xsSet(xsResult, xsID_slots, xsInteger(slots));
	xsSet(xsResult, xsID_slotBytes, xsInteger(slots * (txInteger)sizeof(txSlot)));
#ifdef mxInstrument
	xsSet(xsResult, xsID_stackSlots, xsInteger(stack));
#endif
	if (reset) {
		the->peakChunksSize = the->currentChunksSize;
		the->peakHeapCount = the->currentHeapCount;
#ifdef mxInstrument
		the->stackPeak = the->stack;
#endif
	}
}
