/*
 * hal/moddable/native/credentials on ESP32: the credential store in NVS
 * (partition "nvs", namespace "fieldlink"; hal/moddable/store-layout.ts), read
 * only. npm run flash:esp32 -- --credentials DIR writes that partition with
 * ESP-IDF's NVS partition generator, every entry a blob; Moddable's main
 * (build/devices/esp32/lib/main/main.c) has run nvs_flash_init() on it.
 * Contract: credentials.d.ts.
 *
 * With NVS encryption on (CONFIG_NVS_ENCRYPTION, README "Flash encryption and
 * secure boot"), nvs_flash_init decrypts with the keys partition and nothing
 * here changes.
 *
 * Checked by npm run check:esp-idf against ESP-IDF v6.0 headers; not yet run on
 * silicon (README, Moddable).
 */

#include "xsmc.h"
#include "xsHost.h"

#include <string.h>

#include "esp_err.h"
#include "nvs_flash/include/nvs.h"		/* as Moddable's modules/files/preference/esp32: nvs_flash/include is not on its include path */

#define kPartition "nvs"
#define kNamespace "fieldlink"

/* read(name): the blob's bytes in a new ArrayBuffer, or undefined when there is none. */
void xs_fieldlink_credential_read(xsMachine *the)
{
	char *name = xsmcToString(xsArg(0));
	char key[NVS_KEY_NAME_MAX_SIZE];
	nvs_handle_t handle;
	size_t length = 0;
	esp_err_t err;

	if ((0 == c_strlen(name)) || (c_strlen(name) >= sizeof(key)))
		xsRangeError("credentials: a name is 1 to 15 bytes");
	c_strcpy(key, name);

	err = nvs_open_from_partition(kPartition, kNamespace, NVS_READONLY, &handle);
	if (ESP_OK != err)
		return;		/* no store written yet (ESP_ERR_NVS_NOT_FOUND): undefined */

	err = nvs_get_blob(handle, key, NULL, &length);
	if (ESP_OK == err) {
		xsmcSetArrayBuffer(xsResult, NULL, length);
		err = nvs_get_blob(handle, key, xsmcToArrayBuffer(xsResult), &length);
		if (ESP_OK != err)
			xsmcSetUndefined(xsResult);
	}
	nvs_close(handle);
	if ((ESP_OK != err) && (ESP_ERR_NVS_NOT_FOUND != err))
		xsUnknownError("credentials: %s: %s", key, esp_err_to_name(err));
}
