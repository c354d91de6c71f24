/*
 * hal/moddable/native/memory: the JavaScript face of memory.c. Contract:
 * memory.d.ts.
 */

function nativePeaks(reset) @ "xs_fieldlink_memory_peaks";

export function peaks(reset) {
	return nativePeaks(reset);
}
