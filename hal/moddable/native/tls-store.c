/*
 * The retained TLS session (see tls-store.h).
 */

#include "tls-store.h"

#include <stddef.h>
#include <string.h>

#include "fieldlink-crc32.h"

#define kStoreMagic (0x464c5453)		/* "FLTS" */

typedef struct {
	uint32_t magic;
	uint32_t length;
	uint32_t crc;			/* over expires, tag and the first `length` bytes, which follow each other */
	uint32_t expires;
	uint8_t tag[FL_TLS_STORE_TAG_LENGTH];
	uint8_t bytes[FL_TLS_STORE_CAPACITY];
} flTlsStoreRecord;

#if defined(ESP_PLATFORM)
	#include "esp_attr.h"
	#include "esp_system.h"

	static RTC_NOINIT_ATTR flTlsStoreRecord gStore;

	/* RTC_NOINIT memory holds noise after power-up; only a deep-sleep wake or a reset keeps a record. */
	static void forgetAfterPowerLoss(void)
	{
		static uint8_t checked = 0;
		if (checked)
			return;
		checked = 1;
		esp_reset_reason_t reason = esp_reset_reason();
		if ((ESP_RST_POWERON == reason) || (ESP_RST_BROWNOUT == reason) || (ESP_RST_UNKNOWN == reason))
			gStore.magic = 0;
	}
#else
	static flTlsStoreRecord gStore;

	static void forgetAfterPowerLoss(void)
	{
	}
#endif

static uint32_t recordCrc(void)
{
	return fieldlinkCRC32((const uint8_t *)&gStore.expires, (uint32_t)(offsetof(flTlsStoreRecord, bytes) - offsetof(flTlsStoreRecord, expires) + gStore.length));
}

static int valid(void)
{
	forgetAfterPowerLoss();
	return (kStoreMagic == gStore.magic) && (gStore.length <= FL_TLS_STORE_CAPACITY) && (recordCrc() == gStore.crc);
}

void flTlsStoreSave(const uint8_t tag[FL_TLS_STORE_TAG_LENGTH], const uint8_t *bytes, size_t length, uint32_t expires)
{
	forgetAfterPowerLoss();
	gStore.magic = 0;		/* a reset in the middle leaves nothing that passes the checks */
	if (length > FL_TLS_STORE_CAPACITY)
		return;
	memcpy(gStore.tag, tag, FL_TLS_STORE_TAG_LENGTH);
	memcpy(gStore.bytes, bytes, length);
	gStore.length = (uint32_t)length;
	gStore.expires = expires;
	gStore.crc = recordCrc();
	gStore.magic = kStoreMagic;
}

const uint8_t *flTlsStoreLoad(const uint8_t tag[FL_TLS_STORE_TAG_LENGTH], uint32_t now, size_t *length)
{
	*length = 0;
	if (!valid() || memcmp(gStore.tag, tag, FL_TLS_STORE_TAG_LENGTH) || (now >= gStore.expires))
		return NULL;
	*length = gStore.length;
	return gStore.bytes;
}

void flTlsStoreClear(void)
{
	forgetAfterPowerLoss();
	gStore.magic = 0;
	memset(gStore.bytes, 0, sizeof(gStore.bytes));
	gStore.length = 0;
}

size_t flTlsStoreLength(void)
{
	return valid() ? gStore.length : 0;
}
