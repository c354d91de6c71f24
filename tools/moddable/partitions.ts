/**
 * ESP-IDF partition tables (CSV), as mcconfig writes them into a build's
 * xsProj directory: parsed and placed where ESP-IDF's gen_esp32part.py places
 * them (after the table at 0x8000; app partitions 64 KB aligned, data 4 KB),
 * for the board-safety test and for flashing the credential partition.
 */

export interface Partition {
  name: string;
  type: string;
  subtype: string;
  /** As written; undefined when the table leaves it to gen_esp32part.py. */
  offset?: number;
  size: number;
}

export interface PlacedPartition extends Partition {
  start: number;
  end: number;
}

export function parseSize(text: string): number {
  const t = text.trim();
  if (/^0x/i.test(t)) return parseInt(t, 16);
  if (/K$/i.test(t)) return parseInt(t, 10) * 1024;
  if (/M$/i.test(t)) return parseInt(t, 10) * 1024 * 1024;
  return parseInt(t, 10);
}

export function parseTable(text: string): Partition[] {
  return text.split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [name, type, subtype, offset, size] = line.split(',').map((f) => f.trim());
      return { name, type, subtype, offset: offset ? parseSize(offset) : undefined, size: parseSize(size) };
    });
}

export function layout(table: Partition[]): PlacedPartition[] {
  let next = 0x9000;
  return table.map((p) => {
    const align = p.type === 'app' ? 0x10000 : 0x1000;
    const start = p.offset ?? Math.ceil(next / align) * align;
    next = start + p.size;
    return { ...p, start, end: next };
  });
}
