/*
 * hal/moddable/native/power on ESP32 (esp32, esp32s3, esp32c3, ...): deep sleep,
 * RTC-retained bytes, Wi-Fi power save and the reset reason, as XS host
 * functions for power-esp32.js. Written the way Moddable's own ESP32 modules are
 * (build/devices/esp32/modules/resetReason, modules/files/flash/esp32).
 *
 * UNVERIFIED: compiled here only with -fsyntax-only against stub ESP-IDF
 * headers (no ESP-IDF on the machine it was written on). See README, "Moddable".
 */

#include "xsmc.h"
#include "xsHost.h"

#include <stdint.h>
#include <string.h>

#include "esp_attr.h"
#include "esp_err.h"
#include "esp_sleep.h"
#include "esp_system.h"
#include "esp_wifi.h"
#include "esp_pm.h"

#define kRetainedCapacity (2048)
#define kRetainedMagic (0x464c5254)		/* "FLRT" */

/*
 * RTC_DATA_ATTR keeps this in RTC memory (slow memory on ESP32 and ESP32-S3,
 * fast memory on ESP32-C3), which stays powered in deep sleep. Its content
 * after any other reset is not trusted: the magic, the length and a CRC-32 over
 * the bytes must all match, and a power-on or brownout reset clears it.
 */
typedef struct {
	uint32_t magic;
	uint32_t length;
	uint32_t crc;
	uint8_t data[kRetainedCapacity];
} fieldlinkRetainedRecord;

static RTC_DATA_ATTR fieldlinkRetainedRecord gRetained;
static uint8_t gRetainedChecked = 0;

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320); bitwise, the record is small. */
static uint32_t crc32(const uint8_t *data, uint32_t length)
{
	uint32_t crc = 0xFFFFFFFF;
	while (length--) {
		crc ^= *data++;
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320 & (0 - (crc & 1)));
	}
	return ~crc;
}

static void forgetRetainedAfterPowerLoss(void)
{
	if (gRetainedChecked)
		return;
	gRetainedChecked = 1;

	esp_reset_reason_t reason = esp_reset_reason();
	if ((ESP_RST_POWERON == reason) || (ESP_RST_BROWNOUT == reason) || (ESP_RST_UNKNOWN == reason))
		gRetained.magic = 0;
}

void xs_fieldlink_boot_reason(xsMachine *the)
{
	const char *reason;

	switch (esp_reset_reason()) {
		case ESP_RST_DEEPSLEEP:
			reason = "deep-sleep";
			break;
		case ESP_RST_PANIC:
			reason = "crash";
			break;
		case ESP_RST_SW:
			reason = "reset";
			break;
		case ESP_RST_INT_WDT:
		case ESP_RST_TASK_WDT:
		case ESP_RST_WDT:
			reason = "watchdog";
			break;
		default:		/* power-on, external pin, software restart, brownout, SDIO, ... */
			reason = "power-on";
			break;
	}
	xsmcSetString(xsResult, (char *)reason);
}

void xs_fieldlink_deep_sleep(xsMachine *the)
{
	double ms = xsmcToNumber(xsArg(0));
	uint64_t us;

	if (!(ms >= 0))
		xsRangeError("invalid sleep duration");
	us = (uint64_t)ms * 1000;
	if (us < 1000)
		us = 1000;

	if (ESP_OK != esp_sleep_enable_timer_wakeup(us))
		xsRangeError("sleep duration out of range");

	/*
	 * ESP-IDF asks applications to stop Wi-Fi before sleeping; ESP_ERR_WIFI_NOT_INIT
	 * (radio already off) is fine.
	 */
	esp_wifi_stop();
	fflush(stdout);

	esp_deep_sleep_start();		/* does not return: the chip resets on wake-up */
}

void xs_fieldlink_restart(xsMachine *the)
{
	fflush(stdout);
	esp_restart();		/* does not return; the next boot reports ESP_RST_SW */
}

void xs_fieldlink_retained_capacity(xsMachine *the)
{
	xsmcSetInteger(xsResult, kRetainedCapacity);
}

void xs_fieldlink_retained_load(xsMachine *the)
{
	forgetRetainedAfterPowerLoss();

	if (kRetainedMagic != gRetained.magic)
		return;		/* undefined */
	if (gRetained.length > kRetainedCapacity)
		return;
	if (crc32(gRetained.data, gRetained.length) != gRetained.crc)
		return;

	xsmcSetArrayBuffer(xsResult, gRetained.data, gRetained.length);
}

void xs_fieldlink_retained_store(xsMachine *the)
{
	void *data;
	xsUnsignedValue length;

	forgetRetainedAfterPowerLoss();

	xsmcGetBufferReadable(xsArg(0), &data, &length);
	if (length > kRetainedCapacity)
		xsRangeError("retained: too many bytes");

	/* invalidate first, so a reset in the middle leaves nothing that passes the checks */
	gRetained.magic = 0;
	c_memmove(gRetained.data, data, length);
	gRetained.length = length;
	gRetained.crc = crc32(gRetained.data, length);
	gRetained.magic = kRetainedMagic;
}

void xs_fieldlink_wifi_power_save(xsMachine *the)
{
	int mode = xsmcToInteger(xsArg(0));
	wifi_ps_type_t ps;

	if (0 == mode)
		ps = WIFI_PS_NONE;
	else if (1 == mode)
		ps = WIFI_PS_MIN_MODEM;
	else if (2 == mode)
		ps = WIFI_PS_MAX_MODEM;
	else
		xsRangeError("invalid power save mode");

	/*
	 * Automatic light sleep between DTIM beacons (ESP-IDF "Low power mode in Wi-Fi
	 * scenarios": 2.33 mA at DTIM 3 instead of 28.8 mA in modem sleep alone). Needs
	 * CONFIG_PM_ENABLE and CONFIG_FREERTOS_USE_TICKLESS_IDLE, which
	 * manifests/esp32/sdkconfig/sdkconfig.defaults sets. Configured once.
	 */
	static uint8_t pmConfigured = 0;
	if ((WIFI_PS_NONE != ps) && !pmConfigured) {
		esp_pm_config_t pm = {
			.max_freq_mhz = 160,
			.min_freq_mhz = 40,
			.light_sleep_enable = true,
		};
		pmConfigured = (ESP_OK == esp_pm_configure(&pm));
	}

	/* ESP_ERR_WIFI_NOT_INIT while the radio is off: the HAL applies it again after the next join */
	xsmcSetBoolean(xsResult, ESP_OK == esp_wifi_set_ps(ps));
}
