/*
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) for the records the
 * native modules keep in RTC memory (power-esp32.c, station-esp32.c, tls-store.c). Bitwise:
 * the records are small and written rarely.
 */
#ifndef FIELDLINK_CRC32_H
#define FIELDLINK_CRC32_H

#include <stdint.h>

static inline uint32_t fieldlinkCRC32(const uint8_t *data, uint32_t length)
{
	uint32_t crc = 0xFFFFFFFF;
	while (length--) {
		crc ^= *data++;
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320 & (0 - (crc & 1)));
	}
	return ~crc;
}

#endif
