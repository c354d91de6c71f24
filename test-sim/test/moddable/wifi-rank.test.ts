/**
 * The Wi-Fi and lwIP part of the memory budget (README, "Memory"): each chip's
 * free RAM is Espressif's measured figure for a configuration rank
 * (tools/moddable/memory.ts WIFI_RANKS), which holds only while fieldlink's
 * sdkconfig layer sets every setting the ranks vary at or below that rank's.
 * Runs without the SDK; esp32-generate.test.ts checks with it that the layer's
 * keys reach each board's generated sdkconfig.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CHIP_AVAILABLE_BYTES, TARGET_CHIP, WIFI_RANKS, wifiRankExcess, wifiSettings } from '../../../tools/moddable/memory';
import { LAYER_FILES, layerKeys } from '../../../tools/moddable/sdkconfig';
import { ROOT } from '../../../tools/moddable/build';

function projectLayer(): Map<string, string> {
  return layerKeys(join(ROOT, 'manifests/esp32/sdkconfig'), LAYER_FILES);
}

test('fieldlink\'s sdkconfig layer keeps every Wi-Fi and lwIP setting at or below each chip\'s budgeted rank', () => {
  const layer = wifiSettings(projectLayer());
  for (const chip of new Set(Object.values(TARGET_CHIP))) {
    const rank = WIFI_RANKS[chip];
    assert.ok(rank, `${chip} has a rank`);
    assert.deepEqual(wifiRankExcess(layer, rank), [], `${chip} (${rank.rank} rank)`);
    assert.equal(CHIP_AVAILABLE_BYTES[chip], Math.round(rank.availableKb * 1024));
  }
});

test('a layer that raises a buffer, turns A-MPDU RX back on or leaves a key to the base is outside the rank', () => {
  const base = projectLayer();
  const raised = new Map(base).set('CONFIG_ESP_WIFI_STATIC_RX_BUFFER_NUM', '10');
  assert.deepEqual(wifiRankExcess(wifiSettings(raised), WIFI_RANKS.esp32c3), ['CONFIG_ESP_WIFI_STATIC_RX_BUFFER_NUM=10 > 3']);
  const ampdu = new Map(base).set('CONFIG_ESP_WIFI_AMPDU_RX_ENABLED', 'y');
  // A-MPDU RX on with no window stated: ESP-IDF's default window (6) is not stated by the layer.
  assert.deepEqual(wifiRankExcess(wifiSettings(ampdu), WIFI_RANKS.esp32), ['CONFIG_ESP_WIFI_RX_BA_WIN not set by the layer']);
  const withWindow = new Map(ampdu).set('CONFIG_ESP_WIFI_RX_BA_WIN', '6');
  assert.deepEqual(wifiRankExcess(wifiSettings(withWindow), WIFI_RANKS.esp32), ['CONFIG_ESP_WIFI_RX_BA_WIN=6 > 0']);
  assert.deepEqual(wifiRankExcess(wifiSettings(withWindow), WIFI_RANKS.esp32c3), []);
  const iram = new Map(base).set('CONFIG_LWIP_IRAM_OPTIMIZATION', 'y');
  assert.deepEqual(wifiRankExcess(wifiSettings(iram), WIFI_RANKS.esp32c3), ['CONFIG_LWIP_IRAM_OPTIMIZATION=1 > 0']);
  const left = new Map(base);
  left.delete('CONFIG_LWIP_TCP_WND_DEFAULT');
  assert.deepEqual(wifiRankExcess(wifiSettings(left), WIFI_RANKS.esp32s3), ['CONFIG_LWIP_TCP_WND_DEFAULT not set by the layer']);
});
