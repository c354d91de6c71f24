/*
 * hal/moddable/native/station on ESP32: the Wi-Fi station driven through ESP-IDF
 * directly, for what Moddable's `wifi` module cannot do
 * (modules/network/wifi/esp32/xs6wifi.c always scans every channel and waits for
 * an IPv6 link-local address before it reports an IPv4 one):
 *
 * - a hinted join: `esp_wifi_set_config` with `scan_method = WIFI_FAST_SCAN`,
 *   the cached `channel` and `bssid_set`, so the station probes one channel for
 *   one access point instead of scanning all 13; if that access point is not
 *   there (reason NO_AP_FOUND), it falls back to a full scan once by itself;
 * - no DHCP when it can be avoided: a configured static address, or the last
 *   DHCP lease for the same network kept in RTC memory and reused while it is
 *   younger than half its lease time (RFC 2131's T1: the address is the
 *   client's for the whole lease, and before T1 it would not even renew);
 * - "ip" as soon as IPv4 is up.
 *
 * Events reach JavaScript on the XS thread (modMessagePostToMachine) as
 * callback({kind, ...}): "connected" {channel, bssid, fastScan}, "ip" {ip,
 * source: "dhcp" | "lease" | "static"}, "fallback" {reason} (the hinted access
 * point was not found, full scan under way), "disconnected" {reason,
 * passwordRejected}, "lost-ip". Contract: station.d.ts.
 *
 * Checked by npm run check:esp-idf against ESP-IDF v6.0 headers; not yet run on
 * silicon (README, Moddable).
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
#include "esp_event.h"
#include "esp_netif.h"
#include "esp_netif_net_stack.h"
#include "esp_rtc_time.h"
#include "esp_system.h"
#include "esp_wifi.h"
#include "lwip/dhcp.h"
#include "lwip/netif.h"

#define kLeaseMagic (0x464c4c53)		/* "FLLS" */
#define kConnectRetries (2)

enum {
	kEventConnected = 1,
	kEventIP,
	kEventFallback,
	kEventDisconnected,
	kEventLostIP,
};

enum {
	kSourceDHCP = 0,
	kSourceLease,
	kSourceStatic,
};

typedef struct {
	int32_t kind;
	int32_t reason;
	uint8_t bssid[6];
	uint8_t channel;
	uint8_t source;
	uint32_t ip;
} stationMessage;

/*
 * The last DHCP lease, in RTC memory that no reset initialises (as the retained
 * bytes of power-esp32.c): valid only with its magic and CRC, for the same SSID
 * and access point, and while esp_rtc_get_time_us() (which keeps counting in
 * deep sleep and restarts at power-on) says it is younger than half the lease.
 */
typedef struct {
	uint32_t magic;
	uint32_t crc;
	uint32_t ssidHash;
	uint8_t bssid[6];
	uint8_t channel;
	uint8_t reserved;
	uint32_t ip, netmask, gateway, dns;
	uint32_t leaseSeconds;
	uint64_t obtainedUs;
} fieldlinkLease;

static RTC_NOINIT_ATTR fieldlinkLease gLease;

typedef struct {
	xsMachine *the;
	xsSlot callback;
	uint8_t haveCallback;
	uint8_t initialized;
	uint8_t started;
	uint8_t connectPending;
	uint8_t connected;
	uint8_t hinted;
	uint8_t source;
	uint8_t retries;
	uint32_t ssidHash;
	esp_netif_t *netif;
	wifi_config_t config;
} stationRecord;

static stationRecord gStation;

static uint32_t leaseCRC(void)
{
	return fieldlinkCRC32((const uint8_t *)&gLease.ssidHash, sizeof(fieldlinkLease) - offsetof(fieldlinkLease, ssidHash));
}

static uint8_t leaseUsable(uint32_t ssidHash, const uint8_t *bssid)
{
	if ((kLeaseMagic != gLease.magic) || (leaseCRC() != gLease.crc))
		return 0;
	if ((ssidHash != gLease.ssidHash) || (NULL == bssid) || c_memcmp(bssid, gLease.bssid, 6))
		return 0;
	if (ESP_RST_POWERON == esp_reset_reason())
		return 0;
	uint64_t now = esp_rtc_get_time_us();
	if ((now < gLease.obtainedUs) || (0 == gLease.leaseSeconds))
		return 0;
	return ((now - gLease.obtainedUs) / 1000000) < (gLease.leaseSeconds / 2);
}

static void post(stationMessage *message);

static void connectNow(void)
{
	esp_err_t err = esp_wifi_connect();
	if (ESP_OK != err) {
		stationMessage message = { .kind = kEventDisconnected, .reason = -2 };
		post(&message);
	}
}

static void recordLease(const esp_netif_ip_info_t *info)
{
	struct netif *lwip = (struct netif *)esp_netif_get_netif_impl(gStation.netif);
	struct dhcp *dhcp = lwip ? netif_dhcp_data(lwip) : NULL;
	wifi_ap_record_t ap;
	esp_netif_dns_info_t dns = {0};

	gLease.magic = 0;
	if ((NULL == dhcp) || (0 == dhcp->offered_t0_lease) || (ESP_OK != esp_wifi_sta_get_ap_info(&ap)))
		return;
	esp_netif_get_dns_info(gStation.netif, ESP_NETIF_DNS_MAIN, &dns);
	gLease.ssidHash = gStation.ssidHash;
	c_memcpy(gLease.bssid, ap.bssid, 6);
	gLease.channel = ap.primary;
	gLease.reserved = 0;
	gLease.ip = info->ip.addr;
	gLease.netmask = info->netmask.addr;
	gLease.gateway = info->gw.addr;
	gLease.dns = dns.ip.u_addr.ip4.addr;
	gLease.leaseSeconds = dhcp->offered_t0_lease;
	gLease.obtainedUs = esp_rtc_get_time_us();
	gLease.crc = leaseCRC();
	gLease.magic = kLeaseMagic;
}

static void useDHCP(void)
{
	esp_err_t err = esp_netif_dhcpc_start(gStation.netif);
	(void)err;		/* ESP_ERR_ESP_NETIF_DHCP_ALREADY_STARTED is fine */
	gStation.source = kSourceDHCP;
}

static esp_err_t useAddress(uint32_t ip, uint32_t netmask, uint32_t gateway, uint32_t dnsServer, uint8_t source)
{
	esp_netif_ip_info_t info = {0};
	esp_err_t err = esp_netif_dhcpc_stop(gStation.netif);
	if ((ESP_OK != err) && (ESP_ERR_ESP_NETIF_DHCP_ALREADY_STOPPED != err))
		return err;
	info.ip.addr = ip;
	info.netmask.addr = netmask;
	info.gw.addr = gateway;
	err = esp_netif_set_ip_info(gStation.netif, &info);
	if (ESP_OK != err)
		return err;
	if (dnsServer) {
		esp_netif_dns_info_t dns = {0};
		dns.ip.type = ESP_IPADDR_TYPE_V4;
		dns.ip.u_addr.ip4.addr = dnsServer;
		esp_netif_set_dns_info(gStation.netif, ESP_NETIF_DNS_MAIN, &dns);
	}
	gStation.source = source;
	return ESP_OK;
}

static uint8_t isNoAccessPoint(uint8_t reason)
{
	return (WIFI_REASON_NO_AP_FOUND == reason) || (WIFI_REASON_NO_AP_FOUND_W_COMPATIBLE_SECURITY == reason) ||
		(WIFI_REASON_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD == reason) || (WIFI_REASON_NO_AP_FOUND_IN_RSSI_THRESHOLD == reason);
}

static uint8_t isPasswordRejected(int reason)
{
	return (WIFI_REASON_MIC_FAILURE == reason) || (WIFI_REASON_4WAY_HANDSHAKE_TIMEOUT == reason) ||
		(WIFI_REASON_HANDSHAKE_TIMEOUT == reason) || (WIFI_REASON_AUTH_FAIL == reason);
}

/* ESP-IDF's event task. */
static void onWiFiEvent(void *arg, esp_event_base_t base, int32_t id, void *data)
{
	stationMessage message = {0};
	(void)arg;
	(void)base;

	if (WIFI_EVENT_STA_START == id) {
		gStation.started = 1;
		if (gStation.connectPending)
			connectNow();
		return;
	}
	if (WIFI_EVENT_STA_STOP == id) {
		gStation.started = 0;
		return;
	}
	if (!gStation.connectPending)
		return;
	if (WIFI_EVENT_STA_CONNECTED == id) {
		wifi_event_sta_connected_t *event = data;
		gStation.connected = 1;
		message.kind = kEventConnected;
		c_memcpy(message.bssid, event->bssid, 6);
		message.channel = event->channel;
		message.source = gStation.hinted;
		post(&message);
		return;
	}
	if (WIFI_EVENT_STA_DISCONNECTED == id) {
		wifi_event_sta_disconnected_t *event = data;
		if (!gStation.connected) {
			if (gStation.hinted && isNoAccessPoint(event->reason)) {
				/* The cached access point is not there: scan everything, once, and take whatever DHCP gives. */
				gStation.hinted = 0;
				gStation.config.sta.scan_method = WIFI_ALL_CHANNEL_SCAN;
				gStation.config.sta.bssid_set = 0;
				gStation.config.sta.channel = 0;
				esp_wifi_set_config(WIFI_IF_STA, &gStation.config);
				if (kSourceLease == gStation.source)
					useDHCP();
				message.kind = kEventFallback;
				message.reason = event->reason;
				post(&message);
				connectNow();
				return;
			}
			if (!isPasswordRejected(event->reason) && (gStation.retries < kConnectRetries)) {
				gStation.retries += 1;
				connectNow();
				return;
			}
		}
		gStation.connected = 0;
		gStation.connectPending = 0;
		message.kind = kEventDisconnected;
		message.reason = event->reason;
		post(&message);
	}
}

static void onIPEvent(void *arg, esp_event_base_t base, int32_t id, void *data)
{
	stationMessage message = {0};
	(void)arg;
	(void)base;

	if (!gStation.connectPending)
		return;
	if (IP_EVENT_STA_GOT_IP == id) {
		ip_event_got_ip_t *event = data;
		if (kSourceDHCP == gStation.source)
			recordLease(&event->ip_info);
		message.kind = kEventIP;
		message.ip = event->ip_info.ip.addr;
		message.source = gStation.source;
		post(&message);
	}
	else if (IP_EVENT_STA_LOST_IP == id) {
		message.kind = kEventLostIP;
		post(&message);
	}
}

static void deliver(void *the, void *refcon, uint8_t *data, uint16_t length)
{
	stationMessage *message = (stationMessage *)data;
	char text[20];
	const char *kind;
	(void)refcon;
	(void)length;

	if (!gStation.haveCallback || (the != gStation.the))
		return;
	switch (message->kind) {
		case kEventConnected: kind = "connected"; break;
		case kEventIP: kind = "ip"; break;
		case kEventFallback: kind = "fallback"; break;
		case kEventDisconnected: kind = "disconnected"; break;
		case kEventLostIP: kind = "lost-ip"; break;
		default: return;
	}

	xsBeginHost(the);
		xsmcVars(2);
		xsmcSetNewObject(xsVar(0));
		xsmcSetString(xsVar(1), (char *)kind);
		xsmcSet(xsVar(0), xsID_kind, xsVar(1));
		if (kEventConnected == message->kind) {
			snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", message->bssid[0], message->bssid[1], message->bssid[2], message->bssid[3], message->bssid[4], message->bssid[5]);
			xsmcSetString(xsVar(1), text);
			xsmcSet(xsVar(0), xsID_bssid, xsVar(1));
			xsmcSetInteger(xsVar(1), message->channel);
			xsmcSet(xsVar(0), xsID_channel, xsVar(1));
			xsmcSetBoolean(xsVar(1), message->source);
			xsmcSet(xsVar(0), xsID_fastScan, xsVar(1));
		}
		else if (kEventIP == message->kind) {
			esp_ip4_addr_t ip = { .addr = message->ip };
			snprintf(text, sizeof(text), IPSTR, IP2STR(&ip));
			xsmcSetString(xsVar(1), text);
			xsmcSet(xsVar(0), xsID_ip, xsVar(1));
			xsmcSetString(xsVar(1), (kSourceLease == message->source) ? "lease" : (kSourceStatic == message->source) ? "static" : "dhcp");
			xsmcSet(xsVar(0), xsID_source, xsVar(1));
		}
		else if ((kEventDisconnected == message->kind) || (kEventFallback == message->kind)) {
			xsmcSetInteger(xsVar(1), message->reason);
			xsmcSet(xsVar(0), xsID_reason, xsVar(1));
			xsmcSetBoolean(xsVar(1), isPasswordRejected(message->reason));
			xsmcSet(xsVar(0), xsID_passwordRejected, xsVar(1));
		}
		xsCallFunction1(gStation.callback, xsGlobal, xsVar(0));
	xsEndHost(the);
}

static void post(stationMessage *message)
{
	if (gStation.the)
		modMessagePostToMachine(gStation.the, (uint8_t *)message, sizeof(stationMessage), deliver, NULL);
}

static void check(xsMachine *the, esp_err_t err, const char *what)
{
	if (ESP_OK != err)
		xsUnknownError("%s: %s", what, esp_err_to_name(err));
}

static void initialize(xsMachine *the)
{
	esp_err_t err;
	wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();

	if (gStation.initialized)
		return;
	check(the, esp_netif_init(), "esp_netif_init");
	err = esp_event_loop_create_default();
	if (ESP_ERR_INVALID_STATE != err)		/* the default loop exists already */
		check(the, err, "esp_event_loop_create_default");
	gStation.netif = esp_netif_create_default_wifi_sta();
	if (NULL == gStation.netif)
		xsUnknownError("esp_netif_create_default_wifi_sta failed");
	init.nvs_enable = 0;		/* the HAL owns the credentials: nothing from NVS */
	check(the, esp_wifi_init(&init), "esp_wifi_init");
	check(the, esp_wifi_set_storage(WIFI_STORAGE_RAM), "esp_wifi_set_storage");
	check(the, esp_wifi_set_mode(WIFI_MODE_STA), "esp_wifi_set_mode");
	check(the, esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, onWiFiEvent, NULL), "esp_event_handler_register");
	check(the, esp_event_handler_register(IP_EVENT, ESP_EVENT_ANY_ID, onIPEvent, NULL), "esp_event_handler_register");
	gStation.initialized = 1;
}

static uint8_t parseBSSID(const char *text, uint8_t *bssid)
{
	unsigned int b[6];
	if (6 != sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]))
		return 0;
	for (int i = 0; i < 6; i++)
		bssid[i] = (uint8_t)b[i];
	return 1;
}

static uint32_t addressProperty(xsMachine *the, xsIdentifier id, const char *name, uint8_t required)
{
	esp_ip4_addr_t ip = {0};
	if (!xsmcHas(xsArg(0), id)) {
		if (required)
			xsRangeError("station: %s required with a static address", name);
		return 0;
	}
	xsmcGet(xsVar(0), xsArg(0), id);
	if (ESP_OK != esp_netif_str_to_ip4(xsmcToString(xsVar(0)), &ip))
		xsRangeError("station: %s is not an IPv4 address", name);
	return ip.addr;
}

/*
 * join({ssid, password?, channel?, bssid?, ip?, netmask?, gateway?, dns?}, callback)
 * Powers the radio on and starts a join; callback receives the events.
 */
void xs_station_join(xsMachine *the)
{
	wifi_config_t *config = &gStation.config;
	char *text;
	uint8_t bssid[6];
	uint8_t haveBSSID = 0;
	int channel = 0;

	xsmcVars(1);
	initialize(the);

	if (gStation.haveCallback) {
		xsForget(gStation.callback);
		gStation.haveCallback = 0;
	}
	gStation.connectPending = 0;
	esp_wifi_disconnect();

	c_memset(config, 0, sizeof(wifi_config_t));
	xsmcGet(xsVar(0), xsArg(0), xsID_ssid);
	text = xsmcToString(xsVar(0));
	if ((0 == c_strlen(text)) || (c_strlen(text) > sizeof(config->sta.ssid)))
		xsRangeError("station: ssid must be 1 to 32 bytes");
	c_memcpy(config->sta.ssid, text, c_strlen(text));
	gStation.ssidHash = fieldlinkCRC32(config->sta.ssid, sizeof(config->sta.ssid));
	if (xsmcHas(xsArg(0), xsID_password)) {
		xsmcGet(xsVar(0), xsArg(0), xsID_password);
		text = xsmcToString(xsVar(0));
		if (c_strlen(text) > sizeof(config->sta.password))
			xsRangeError("station: password must be at most 64 bytes");
		c_memcpy(config->sta.password, text, c_strlen(text));
	}
	/* No downgrade to an open or WEP network of the same name when a password is set. */
	config->sta.threshold.authmode = config->sta.password[0] ? WIFI_AUTH_WPA2_PSK : WIFI_AUTH_OPEN;
	config->sta.pmf_cfg.capable = true;
	config->sta.sort_method = WIFI_CONNECT_AP_BY_SIGNAL;
	config->sta.scan_method = WIFI_ALL_CHANNEL_SCAN;

	if (xsmcHas(xsArg(0), xsID_channel)) {
		xsmcGet(xsVar(0), xsArg(0), xsID_channel);
		channel = xsmcToInteger(xsVar(0));
		if ((channel < 1) || (channel > 13))
			xsRangeError("station: channel must be 1 to 13");
	}
	if (xsmcHas(xsArg(0), xsID_bssid)) {
		xsmcGet(xsVar(0), xsArg(0), xsID_bssid);
		if (!parseBSSID(xsmcToString(xsVar(0)), bssid))
			xsRangeError("station: bssid must be six hex bytes separated by colons");
		haveBSSID = 1;
	}
	gStation.hinted = (channel && haveBSSID) ? 1 : 0;
	if (gStation.hinted) {
		config->sta.scan_method = WIFI_FAST_SCAN;
		config->sta.channel = channel;
		config->sta.bssid_set = true;
		c_memcpy(config->sta.bssid, bssid, 6);
	}

	if (xsmcHas(xsArg(0), xsID_ip)) {
		uint32_t ip = addressProperty(the, xsID_ip, "ip", 1);
		uint32_t netmask = addressProperty(the, xsID_netmask, "netmask", 1);
		uint32_t gateway = addressProperty(the, xsID_gateway, "gateway", 1);
		uint32_t dns = addressProperty(the, xsID_dns, "dns", 0);
		check(the, useAddress(ip, netmask, gateway, dns ? dns : gateway, kSourceStatic), "static address");
	}
	else if (gStation.hinted && leaseUsable(gStation.ssidHash, bssid)) {
		if (ESP_OK != useAddress(gLease.ip, gLease.netmask, gLease.gateway, gLease.dns, kSourceLease))
			useDHCP();
	}
	else
		useDHCP();

	check(the, esp_wifi_set_config(WIFI_IF_STA, config), "esp_wifi_set_config");

	gStation.the = the;
	gStation.callback = xsArg(1);
	xsRemember(gStation.callback);
	gStation.haveCallback = 1;
	gStation.connected = 0;
	gStation.retries = 0;
	gStation.connectPending = 1;
	if (gStation.started)
		connectNow();
	else
		check(the, esp_wifi_start(), "esp_wifi_start");		/* WIFI_EVENT_STA_START connects */
}

/* leave(): disconnect and power the radio off (esp_wifi_stop); no further events. */
void xs_station_leave(xsMachine *the)
{
	gStation.connectPending = 0;
	gStation.connected = 0;
	if (gStation.haveCallback) {
		xsForget(gStation.callback);
		gStation.haveCallback = 0;
	}
	if (!gStation.initialized)
		return;
	esp_wifi_disconnect();
	esp_wifi_stop();
	gStation.started = 0;
}

/* forgetLease(): the next join runs DHCP (the HAL calls this when a join on a reused lease led nowhere). */
void xs_station_forget_lease(xsMachine *the)
{
	gLease.magic = 0;
}

/* info(): {channel, bssid, ip} of the current association, or undefined. */
void xs_station_info(xsMachine *the)
{
	wifi_ap_record_t ap;
	esp_netif_ip_info_t info;
	char text[20];

	if (!gStation.initialized || (ESP_OK != esp_wifi_sta_get_ap_info(&ap)))
		return;
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	xsmcSetInteger(xsVar(0), ap.primary);
	xsmcSet(xsResult, xsID_channel, xsVar(0));
	snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", ap.bssid[0], ap.bssid[1], ap.bssid[2], ap.bssid[3], ap.bssid[4], ap.bssid[5]);
	xsmcSetString(xsVar(0), text);
	xsmcSet(xsResult, xsID_bssid, xsVar(0));
	if ((ESP_OK == esp_netif_get_ip_info(gStation.netif, &info)) && info.ip.addr) {
		snprintf(text, sizeof(text), IPSTR, IP2STR(&info.ip));
		xsmcSetString(xsVar(0), text);
		xsmcSet(xsResult, xsID_ip, xsVar(0));
	}
}
