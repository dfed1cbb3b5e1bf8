/**
 * RGBA pixels → an 8-bit palette PNG. resvg's own PNG is 32-bit RGBA, which for a ticket
 * with a photo poster runs to hundreds of KB; a palette of at most 256 colours chosen for
 * the image (median cut over a 15-bit colour histogram, no dithering) keeps the flat areas,
 * text and QR code exact and brings a ticket with a poster well under the 60 KB an email
 * attachment should weigh. Deflate is the runtime's zlib (`node:zlib`, native in workerd
 * under nodejs_compat), synchronous and with a chosen level: CompressionStream has no level
 * and its stream costs more than the compression of one small buffer.
 */
import { deflateSync } from "node:zlib";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = (crcTable[(crc ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

export interface PaletteImage {
  /** r, g, b per palette entry. */
  colors: Uint8Array;
  /** PNG scanlines: per row a filter byte (0, "None") and then one palette index per pixel. */
  scanlines: Uint8Array;
}

/** The 15-bit histogram bin (5 bits per channel) of a little-endian RGBA pixel read as a uint32. */
const bin = (v: number) => ((v & 0xf8) << 7) | ((v >>> 6) & 0x3e0) | ((v >>> 19) & 0x1f);
const channel = (key: number, c: number) => (key >> (10 - 5 * c)) & 31;

/** Counting sort of `order[start, end)` by one 5-bit channel: 32 buckets, linear time. */
function sortByChannel(
  order: Int32Array,
  start: number,
  end: number,
  axis: number,
  scratch: Int32Array,
): void {
  const offsets = new Int32Array(33);
  for (let i = start; i < end; i++) {
    const c = channel(order[i] ?? 0, axis) + 1;
    offsets[c] = (offsets[c] ?? 0) + 1;
  }
  for (let c = 1; c <= 32; c++) offsets[c] = (offsets[c] ?? 0) + (offsets[c - 1] ?? 0);
  for (let i = start; i < end; i++) {
    const key = order[i] ?? 0;
    const c = channel(key, axis);
    const at = offsets[c] ?? 0;
    scratch[at] = key;
    offsets[c] = at + 1;
  }
  order.set(scratch.subarray(0, end - start), start);
}

/**
 * At most `maxColors` colours for an opaque RGBA image (alpha is ignored: tickets are drawn
 * on an opaque background). Median cut over the occupied 5-5-5 histogram bins, each bin
 * weighted by its pixel count; every palette entry is the exact mean of its pixels. Both
 * passes over the pixels work in runs of equal pixels, which is what a ticket mostly is.
 */
export function quantizeToScanlines(
  rgba: Uint8Array,
  width: number,
  height: number,
  maxColors = 256,
): PaletteImage {
  const pixelCount = width * height;
  const aligned = rgba.byteOffset % 4 === 0 ? rgba : rgba.slice();
  const pixels = new Uint32Array(aligned.buffer, aligned.byteOffset, pixelCount);
  const counts = new Uint32Array(32768);
  const sums = new Float64Array(32768 * 3);
  const addRun = (v: number, run: number) => {
    const key = bin(v);
    counts[key] = (counts[key] ?? 0) + run;
    const s = key * 3;
    sums[s] = (sums[s] ?? 0) + (v & 0xff) * run;
    sums[s + 1] = (sums[s + 1] ?? 0) + ((v >>> 8) & 0xff) * run;
    sums[s + 2] = (sums[s + 2] ?? 0) + ((v >>> 16) & 0xff) * run;
  };
  let current = pixels[0] ?? 0;
  let run = 0;
  for (let p = 0; p < pixelCount; p++) {
    const v = pixels[p] ?? 0;
    if (v === current) {
      run++;
    } else {
      addRun(current, run);
      current = v;
      run = 1;
    }
  }
  if (run > 0) addRun(current, run);

  const used: number[] = [];
  for (let key = 0; key < 32768; key++) if (counts[key]) used.push(key);
  const order = Int32Array.from(used);

  interface Box {
    start: number;
    end: number;
    weight: number;
    axis: number;
    range: number;
  }
  const describe = (start: number, end: number): Box => {
    let min0 = 31;
    let min1 = 31;
    let min2 = 31;
    let max0 = 0;
    let max1 = 0;
    let max2 = 0;
    let weight = 0;
    for (let i = start; i < end; i++) {
      const key = order[i] ?? 0;
      weight += counts[key] ?? 0;
      const c0 = channel(key, 0);
      const c1 = channel(key, 1);
      const c2 = channel(key, 2);
      if (c0 < min0) min0 = c0;
      if (c0 > max0) max0 = c0;
      if (c1 < min1) min1 = c1;
      if (c1 > max1) max1 = c1;
      if (c2 < min2) min2 = c2;
      if (c2 > max2) max2 = c2;
    }
    const ranges = [max0 - min0, max1 - min1, max2 - min2];
    const range = Math.max(...ranges);
    return { start, end, weight, axis: ranges.indexOf(range), range };
  };

  const scratch = new Int32Array(order.length);
  const boxes: Box[] = [describe(0, order.length)];
  while (boxes.length < maxColors) {
    let best = -1;
    let bestScore = 0;
    for (let b = 0; b < boxes.length; b++) {
      const box = boxes[b];
      if (!box || box.end - box.start < 2 || box.range === 0) continue;
      const score = box.range * box.weight;
      if (score > bestScore) {
        bestScore = score;
        best = b;
      }
    }
    const box = boxes[best];
    if (!box) break;
    const { start, end, axis } = box;
    sortByChannel(order, start, end, axis, scratch);
    // Split at the weighted median, keeping at least one bin on each side.
    let acc = 0;
    let split = start + 1;
    for (let i = start; i < end - 1; i++) {
      acc += counts[order[i] ?? 0] ?? 0;
      split = i + 1;
      if (acc * 2 >= box.weight) break;
    }
    boxes.splice(best, 1, describe(start, split), describe(split, end));
  }

  const lut = new Uint8Array(32768);
  const colors = new Uint8Array(boxes.length * 3);
  boxes.forEach((box, index) => {
    let r = 0;
    let g = 0;
    let b = 0;
    for (let i = box.start; i < box.end; i++) {
      const key = order[i] ?? 0;
      lut[key] = index;
      r += sums[key * 3] ?? 0;
      g += sums[key * 3 + 1] ?? 0;
      b += sums[key * 3 + 2] ?? 0;
    }
    const weight = box.weight || 1;
    colors[index * 3] = Math.round(r / weight);
    colors[index * 3 + 1] = Math.round(g / weight);
    colors[index * 3 + 2] = Math.round(b / weight);
  });

  // Filter type 0 on every row: the PNG spec's advice for palette images.
  const stride = width + 1;
  const scanlines = new Uint8Array(stride * height);
  let last = -1;
  let lastIndex = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const out = y * stride + 1;
    for (let x = 0; x < width; x++) {
      const v = pixels[row + x] ?? 0;
      if (v !== last) {
        last = v;
        lastIndex = lut[bin(v)] ?? 0;
      }
      scanlines[out + x] = lastIndex;
    }
  }
  return { colors, scanlines };
}

export interface PngOptions {
  /** Palette size, 2–256. */
  maxColors?: number;
  /** zlib level: 1–3 are fast and good enough for flat artwork; 6 for photos. */
  level?: number;
}

/** Encode RGBA pixels as a palette PNG (colour type 3, 8-bit, no interlace). */
export function encodePalettePng(
  rgba: Uint8Array,
  width: number,
  height: number,
  { maxColors = 256, level = 6 }: PngOptions = {},
): Uint8Array {
  const { colors, scanlines } = quantizeToScanlines(rgba, width, height, maxColors);
  return encodeIndexedPng(width, height, colors, scanlines, level);
}

/**
 * A palette PNG from its parts: `colors` (r, g, b per entry, at most 256 entries) and
 * `scanlines` (per row a filter byte and one palette index per pixel), deflated at `level`.
 */
export function encodeIndexedPng(
  width: number,
  height: number,
  colors: Uint8Array,
  scanlines: Uint8Array,
  level: number,
): Uint8Array {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 3; // colour type: palette
  const parts = [
    Uint8Array.from(PNG_SIGNATURE),
    chunk("IHDR", header),
    chunk("PLTE", colors),
    chunk("IDAT", new Uint8Array(deflateSync(scanlines, { level }))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Width and height from a PNG's IHDR, or null if `bytes` is not a PNG. */
export function pngDimensions(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 24 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}
