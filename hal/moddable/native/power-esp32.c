/*
 * hal/moddable/native/power on ESP32 (esp32, esp32s3, esp32c3, ...): deep sleep,
 * retained bytes, the application watchdog, power management, Wi-Fi power save
 * and the reset reason, as XS host functions for power-esp32.js. Written the way
 * Moddable's own ESP32 modules are (build/devices/esp32/modules/resetReason,
 * modules/files/flash/esp32). Contract: power.d.ts.
 *
 * Checked by npm run check:esp-idf against ESP-IDF v6.0 headers (esp32c3
 * compiled, esp32 syntax and types); not yet run on silicon (README, Moddable).
 */

#include "xsmc.h"
#include "xsHost.h"
#include "mc.xs.h"			/* xsID_ values */
#include "fieldlink-crc32.h"

#include <stdint.h>
#include <string.h>

#include "sdkconfig.h"
#include "esp_attr.h"
#include "esp_err.h"
#include "esp_sleep.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "esp_wifi.h"
#include "esp_pm.h"
#include "esp_private/esp_clk.h"

#define kRetainedCapacity (2048)
#define kRetainedMagic (0x464c5254)		/* "FLRT" */
#define kCauseMagic (0x464c4341)		/* "FLCA" */

enum {
	kCauseNone = 0,
	kCauseWatchdog = 1,		/* the application watchdog expired: next boot reports "watchdog" */
	kCauseSleepFailed = 2,	/* deep sleep could not be entered: next boot reports "reset" */
};

/*
 * RTC_NOINIT_ATTR: RTC memory (slow memory on ESP32 and ESP32-S3, fast memory
 * on ESP32-C3) that no reset initialises: it keeps its content through deep
 * sleep, esp_restart(), a panic and every watchdog reset, and holds noise
 * after power loss. (RTC_DATA_ATTR would be reloaded from flash by the
 * bootloader at every reset but a deep-sleep wake.) So the bytes count only
 * when the magic, the length and a CRC-32 over them all match, and a boot
 * after power loss (power-on, brownout) clears them.
 */
typedef struct {
	uint32_t magic;
	uint32_t length;
	uint32_t crc;
	uint32_t cause;			/* kCause* ^ kCauseMagic, or anything else for none; read once per boot */
	uint8_t data[kRetainedCapacity];
} fieldlinkRetainedRecord;

static RTC_NOINIT_ATTR fieldlinkRetainedRecord gRetained;
static uint8_t gBootChecked = 0;
static const char *gBootReason = "power-on";
static uint32_t gRestartCause = kCauseNone;

/*
 * Once per boot: the reason, the cause this firmware left before restarting,
 * and the retained bytes forgotten after power loss.
 */
static void checkBoot(void)
{
	if (gBootChecked)
		return;
	gBootChecked = 1;

	uint32_t cause = gRetained.cause ^ kCauseMagic;
	gRetained.cause = 0;
	if ((kCauseWatchdog == cause) || (kCauseSleepFailed == cause))
		gRestartCause = cause;

	switch (esp_reset_reason()) {
		case ESP_RST_DEEPSLEEP:
			gBootReason = "deep-sleep";
			break;
		case ESP_RST_PANIC:
			gBootReason = "crash";
			break;
		case ESP_RST_SW:
			gBootReason = (kCauseWatchdog == gRestartCause) ? "watchdog" : "reset";
			break;
		case ESP_RST_INT_WDT:
		case ESP_RST_TASK_WDT:
		case ESP_RST_WDT:
			gBootReason = "watchdog";
			break;
		default:		/* power-on, brownout, external pin, unknown, ...: nothing retained is trusted */
			gBootReason = "power-on";
			gRestartCause = kCauseNone;
			gRetained.magic = 0;
			break;
	}
}

static void restartBecause(uint32_t cause)
{
	gRetained.cause = cause ^ kCauseMagic;
	fflush(stdout);
	esp_restart();		/* does not return; the next boot reports ESP_RST_SW */
}

void xs_fieldlink_boot_reason(xsMachine *the)
{
	checkBoot();
	xsmcSetString(xsResult, (char *)gBootReason);
}

void xs_fieldlink_restart_cause(xsMachine *the)
{
	checkBoot();
	if (kCauseWatchdog == gRestartCause)
		xsmcSetString(xsResult, "watchdog");
	else if (kCauseSleepFailed == gRestartCause)
		xsmcSetString(xsResult, "sleep-failed");
}

/*
 * Deep sleep for argument 0 milliseconds, an integer from 1 to 0xFFFFFFFF (the
 * HAL checks this before it stops anything; this checks again). If ESP-IDF
 * refuses the timer or rejects the sleep, the chip restarts instead: a device
 * whose HAL is already halted must not stay awake doing nothing.
 */
void xs_fieldlink_deep_sleep(xsMachine *the)
{
	double ms = xsmcToNumber(xsArg(0));

	if (!((ms >= 1) && (ms <= 4294967295.0) && (ms == (double)(uint64_t)ms)))
		xsRangeError("deep sleep: not an integer from 1 to 4294967295 ms");

	checkBoot();
	if (ESP_OK != esp_sleep_enable_timer_wakeup((uint64_t)ms * 1000))
		restartBecause(kCauseSleepFailed);

	/* ESP-IDF asks applications to stop Wi-Fi before sleeping; ESP_ERR_WIFI_NOT_INIT (radio already off) is fine. */
	esp_wifi_stop();
	fflush(stdout);

	esp_deep_sleep_try_to_start();		/* returns only if the sleep was rejected */
	restartBecause(kCauseSleepFailed);
}

void xs_fieldlink_restart(xsMachine *the)
{
	checkBoot();
	restartBecause(kCauseNone);
}

void xs_fieldlink_retained_capacity(xsMachine *the)
{
	xsmcSetInteger(xsResult, kRetainedCapacity);
}

void xs_fieldlink_retained_load(xsMachine *the)
{
	checkBoot();

	if (kRetainedMagic != gRetained.magic)
		return;		/* undefined */
	if (gRetained.length > kRetainedCapacity)
		return;
	if (fieldlinkCRC32(gRetained.data, gRetained.length) != gRetained.crc)
		return;

	xsmcSetArrayBuffer(xsResult, gRetained.data, gRetained.length);
}

void xs_fieldlink_retained_store(xsMachine *the)
{
	void *data;
	xsUnsignedValue length;

	checkBoot();

	xsmcGetBufferReadable(xsArg(0), &data, &length);
	if (length > kRetainedCapacity)
		xsRangeError("retained: too many bytes");

	/* invalidate first, so a reset in the middle leaves nothing that passes the checks */
	gRetained.magic = 0;
	c_memmove(gRetained.data, data, length);
	gRetained.length = length;
	gRetained.crc = fieldlinkCRC32(gRetained.data, length);
	gRetained.magic = kRetainedMagic;
}

/*
 * The application watchdog: a one-shot esp_timer the HAL pushes forward every
 * time firmware feeds it or schedules a timer (hal.ts). If it ever expires,
 * firmware has had nothing scheduled and has not fed it for the whole grace
 * period, and the chip restarts; the next boot reports "watchdog". Debug builds
 * (mxDebug: xsbug may stop the machine for as long as it likes) never arm it.
 * The ESP-IDF task watchdog (CONFIG_ESP_TASK_WDT_EN in release builds, fed by
 * Moddable's main loop on every turn) covers a turn that never ends.
 */
#ifndef mxDebug
static esp_timer_handle_t gWatchdog = NULL;

static void watchdogExpired(void *arg)
{
	(void)arg;
	restartBecause(kCauseWatchdog);
}
#endif

void xs_fieldlink_watchdog_arm(xsMachine *the)
{
#ifdef mxDebug
	xsmcSetBoolean(xsResult, 0);
#else
	double ms = xsmcToNumber(xsArg(0));
	if (!((ms >= 1) && (ms <= 4294967295.0)))
		xsRangeError("watchdog: not from 1 to 4294967295 ms");

	if (NULL == gWatchdog) {
		esp_timer_create_args_t args = {
			.callback = watchdogExpired,
			.arg = NULL,
			.dispatch_method = ESP_TIMER_TASK,
			.name = "fieldlink-wdt",
			.skip_unhandled_events = true,
		};
		if (ESP_OK != esp_timer_create(&args, &gWatchdog)) {
			gWatchdog = NULL;
			xsmcSetBoolean(xsResult, 0);
			return;
		}
	}
	esp_err_t err = esp_timer_restart(gWatchdog, (uint64_t)ms * 1000);
	if (ESP_ERR_INVALID_STATE == err)		/* not running yet */
		err = esp_timer_start_once(gWatchdog, (uint64_t)ms * 1000);
	xsmcSetBoolean(xsResult, ESP_OK == err);
#endif
}

/*
 * Power management with automatic light sleep, configured once: the CPU runs
 * at the build's default frequency (CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ) when
 * busy, at the crystal's frequency (esp_clk_xtal_freq(): 40 MHz, or 26 MHz on
 * modules with that crystal, which a hard-coded 40 would make esp_pm_configure
 * refuse) when idle, and sleeps between events (needs CONFIG_PM_ENABLE and
 * CONFIG_FREERTOS_USE_TICKLESS_IDLE, manifests/esp32/sdkconfig). Returns
 * { result, maxMHz, minMHz } with ESP-IDF's name for the result, which the HAL
 * logs.
 */
static esp_pm_lock_handle_t gBoost = NULL;

void xs_fieldlink_configure_pm(xsMachine *the)
{
	esp_pm_config_t pm = {
		.max_freq_mhz = CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ,
		.min_freq_mhz = esp_clk_xtal_freq() / 1000000,
		.light_sleep_enable = true,
	};
	esp_err_t err = esp_pm_configure(&pm);
	if ((ESP_OK == err) && (NULL == gBoost) && (ESP_OK != esp_pm_lock_create(ESP_PM_CPU_FREQ_MAX, 0, "fieldlink", &gBoost)))
		gBoost = NULL;

	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	xsmcSetString(xsVar(0), (char *)esp_err_to_name(err));
	xsmcSet(xsResult, xsID_result, xsVar(0));
	xsmcSetInteger(xsVar(0), pm.max_freq_mhz);
	xsmcSet(xsResult, xsID_maxMHz, xsVar(0));
	xsmcSetInteger(xsVar(0), pm.min_freq_mhz);
	xsmcSet(xsResult, xsID_minMHz, xsVar(0));
}

/*
 * Hold the CPU at its maximum frequency (argument 0 true) or let it go (false).
 * With power management on, the CPU runs at the APB frequency (80 MHz) while
 * Wi-Fi is active and at the crystal's when idle; nothing raises it for
 * work on the CPU, so the HAL holds this lock while a TLS handshake computes
 * (its RSA signature in XS). Returns false when there is no lock (power
 * management not configured).
 */
void xs_fieldlink_cpu_boost(xsMachine *the)
{
	static uint8_t held = 0;
	uint8_t on = xsmcTest(xsArg(0)) ? 1 : 0;

	if (NULL == gBoost) {
		xsmcSetBoolean(xsResult, 0);
		return;
	}
	if (on != held) {
		if (ESP_OK != (on ? esp_pm_lock_acquire(gBoost) : esp_pm_lock_release(gBoost))) {
			xsmcSetBoolean(xsResult, 0);
			return;
		}
		held = on;
	}
	xsmcSetBoolean(xsResult, 1);
}

/*
 * 802.11 power save while associated: 0 none, 1 min modem, 2 max modem.
 * Returns ESP-IDF's name for esp_wifi_set_ps's result ("ESP_OK", or
 * "ESP_ERR_WIFI_NOT_INIT" while the radio is off: the HAL applies it again
 * after the next join).
 */
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

	xsmcSetString(xsResult, (char *)esp_err_to_name(esp_wifi_set_ps(ps)));
}
