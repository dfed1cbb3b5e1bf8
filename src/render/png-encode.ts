/**
 * RGBA pixels → an 8-bit palette PNG. resvg's own PNG is 32-bit RGBA, which for a ticket
 * with a photo poster runs to hundreds of KB; a palette of at most 256 colours chosen for
 * the image (median cut over a 15-bit colour histogram and a step of k-means, no dithering)
 * keeps the flat areas, text and QR code close or exact and brings a ticket with a poster
 * well under the 60 KB an email attachment should weigh. Deflate is the runtime's zlib
 * (`node:zlib`, native in workerd under nodejs_compat), synchronous and with a chosen level:
 * CompressionStream has no level and its stream costs more than the compression of one small
 * buffer. A PNG's first rows can be compressed once for many images (`deflateRows`).
 */
import { constants, deflateSync } from "node:zlib";

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

interface PaletteImage {
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

/** A palette and the way any opaque colour (an RGBA word) maps onto it. */
export interface MappedPalette {
  /** One colour per entry, as the little-endian RGBA word of its pixels. */
  colors: Uint32Array;
  indexOf(color: number): number;
}

/**
 * At most `maxColors` colours for an opaque RGBA image (alpha is ignored: tickets are drawn
 * on an opaque background). Median cut over the occupied 5-5-5 histogram bins, each bin
 * weighted by its pixel count, then one step of k-means; every palette entry is the exact
 * mean of its pixels. The histogram pass works in runs of equal pixels, which is what a
 * ticket mostly is.
 *
 * `exact` colours get entries of their own (first, in that order) and stay out of the median
 * cut: the flat fills and the QR modules keep their exact colour. A colour the image did not
 * have (in a bin it left empty) maps to the nearest entry, found once per bin: the renderer
 * maps the ticket's own parts, drawn later, onto a palette chosen for its head.
 */
export function choosePalette(
  rgba: Uint8Array,
  width: number,
  height: number,
  maxColors = 256,
  exact: readonly number[] = [],
): MappedPalette {
  const pixelCount = width * height;
  const aligned = rgba.byteOffset % 4 === 0 ? rgba : rgba.slice();
  const pixels = new Uint32Array(aligned.buffer, aligned.byteOffset, pixelCount);
  const counts = new Uint32Array(32768);
  const sums = new Float64Array(32768 * 3);
  const addRun = (v: number, run: number) => {
    // A handful of exact colours: comparing them beats a Map lookup on every run of a photo.
    for (const color of exact) if (v === color) return;
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
  const boxes: Box[] = order.length || !exact.length ? [describe(0, order.length)] : [];
  const maxBoxes = Math.max(1, maxColors - exact.length);
  while (boxes.length < maxBoxes) {
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

  // Per bin its entry; -1 until a colour in a bin the image left empty asks for it.
  const lut = new Int16Array(32768).fill(-1);
  const entries = exact.length + boxes.length;
  const reds = new Float64Array(entries);
  const greens = new Float64Array(entries);
  const blues = new Float64Array(entries);
  exact.forEach((color, index) => {
    reds[index] = color & 0xff;
    greens[index] = (color >>> 8) & 0xff;
    blues[index] = (color >>> 16) & 0xff;
  });
  /**
   * Move each entry from `first` on to the weighted mean of the bins the table gives it (one
   * left without bins keeps its colour).
   */
  const settle = (first: number) => {
    const weights = new Float64Array(entries);
    const r = new Float64Array(entries);
    const g = new Float64Array(entries);
    const b = new Float64Array(entries);
    for (const key of order) {
      const index = lut[key] ?? 0;
      weights[index] = (weights[index] ?? 0) + (counts[key] ?? 0);
      r[index] = (r[index] ?? 0) + (sums[key * 3] ?? 0);
      g[index] = (g[index] ?? 0) + (sums[key * 3 + 1] ?? 0);
      b[index] = (b[index] ?? 0) + (sums[key * 3 + 2] ?? 0);
    }
    for (let index = first; index < entries; index++) {
      const weight = weights[index] ?? 0;
      if (weight === 0) continue;
      reds[index] = Math.round((r[index] ?? 0) / weight);
      greens[index] = Math.round((g[index] ?? 0) / weight);
      blues[index] = Math.round((b[index] ?? 0) / weight);
    }
  };
  boxes.forEach((box, b) => {
    for (let i = box.start; i < box.end; i++) lut[order[i] ?? 0] = exact.length + b;
  });
  settle(exact.length);
  // A box that was never split (few pixels, so a low score) can be wide, and its mean far
  // from some of its colours: the rare edge pixels of a photo came out as specks of another
  // hue. One step of k-means settles it: every bin goes to the entry nearest its own mean,
  // and the entries move to the mean of their new bins.
  const entriesNow = new NearestColor(reds, greens, blues);
  for (const key of order) {
    const n = counts[key] || 1;
    lut[key] = entriesNow.find(
      (sums[key * 3] ?? 0) / n,
      (sums[key * 3 + 1] ?? 0) / n,
      (sums[key * 3 + 2] ?? 0) / n,
    );
  }
  settle(exact.length);
  const colors = new Uint32Array(entries);
  for (let index = 0; index < entries; index++) {
    colors[index] =
      ((reds[index] ?? 0) | ((greens[index] ?? 0) << 8) | ((blues[index] ?? 0) << 16) | 0xff000000) >>> 0;
  }
  // A class of its own, not a closure here: it keeps the bin table, not the histogram (1 MB).
  return new BinnedPalette(colors, lut, exact);
}

/**
 * The nearest of a few colours, looked for in order of brightness (r + g + b) outwards from
 * the colour asked about: an entry whose brightness differs by d is at least d / sqrt(3)
 * away, so the search stops after a few entries on each side instead of trying all of them.
 */
class NearestColor {
  private readonly reds: Float64Array;
  private readonly greens: Float64Array;
  private readonly blues: Float64Array;
  private readonly brightness: Float64Array;
  private readonly byBrightness: Int32Array;

  constructor(reds: ArrayLike<number>, greens: ArrayLike<number>, blues: ArrayLike<number>) {
    this.reds = Float64Array.from(reds);
    this.greens = Float64Array.from(greens);
    this.blues = Float64Array.from(blues);
    const brightness = this.reds.map((r, i) => r + (this.greens[i] ?? 0) + (this.blues[i] ?? 0));
    this.brightness = brightness;
    this.byBrightness = Int32Array.from(brightness, (_, i) => i).sort(
      (a, b) => (brightness[a] ?? 0) - (brightness[b] ?? 0) || a - b,
    );
  }

  /** The index of the nearest colour (squared RGB distance; the lower index on a tie). */
  find(r: number, g: number, b: number): number {
    const { reds, greens, blues, brightness, byBrightness } = this;
    const count = byBrightness.length;
    const key = r + g + b;
    let low = 0;
    let high = count;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((brightness[byBrightness[middle] ?? 0] ?? 0) < key) low = middle + 1;
      else high = middle;
    }
    let best = 0;
    let bestDistance = Number.POSITIVE_INFINITY;
    // Outwards from `low` on both sides in turn; a side stops at the first entry too far in
    // brightness alone, since every entry beyond it is further still.
    let up = low;
    let down = low - 1;
    while (up < count || down >= 0) {
      for (let side = 0; side < 2; side++) {
        const at = side === 0 ? up : down;
        if (at < 0 || at >= count) continue;
        const index = byBrightness[at] ?? 0;
        const apart = (brightness[index] ?? 0) - key;
        if ((apart * apart) / 3 > bestDistance) {
          if (side === 0) up = count;
          else down = -1;
          continue;
        }
        const dr = (reds[index] ?? 0) - r;
        const dg = (greens[index] ?? 0) - g;
        const db = (blues[index] ?? 0) - b;
        const distance = dr * dr + dg * dg + db * db;
        if (distance < bestDistance || (distance === bestDistance && index < best)) {
          bestDistance = distance;
          best = index;
        }
        if (side === 0) up++;
        else down--;
      }
    }
    return best;
  }
}

/** `choosePalette`'s answer: exact colours first, then every other colour by its bin. */
class BinnedPalette implements MappedPalette {
  readonly colors: Uint32Array;
  private readonly lut: Int16Array;
  private readonly exact: readonly number[];
  private readonly nearest: NearestColor;

  /** `lut`: per 15-bit bin its entry, or -1 for a bin the image left empty. */
  constructor(colors: Uint32Array, lut: Int16Array, exact: readonly number[]) {
    this.colors = colors;
    this.lut = lut;
    this.exact = exact;
    this.nearest = new NearestColor(
      Array.from(colors, (c) => c & 0xff),
      Array.from(colors, (c) => (c >>> 8) & 0xff),
      Array.from(colors, (c) => (c >>> 16) & 0xff),
    );
  }

  indexOf(color: number): number {
    const exactIndex = this.exact.indexOf(color);
    if (exactIndex >= 0) return exactIndex;
    const key = bin(color);
    let index = this.lut[key] ?? -1;
    if (index < 0) {
      // Found once per bin: the ticket's own text on the card, in colours near the head's.
      index = this.nearest.find(color & 0xff, (color >>> 8) & 0xff, (color >>> 16) & 0xff);
      this.lut[key] = index;
    }
    return index;
  }
}

/** `choosePalette` and the image's PNG scanlines in it. */
function quantizeToScanlines(rgba: Uint8Array, width: number, height: number, maxColors = 256): PaletteImage {
  const palette = choosePalette(rgba, width, height, maxColors);
  const aligned = rgba.byteOffset % 4 === 0 ? rgba : rgba.slice();
  const pixels = new Uint32Array(aligned.buffer, aligned.byteOffset, width * height);
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
        lastIndex = palette.indexOf(v);
      }
      scanlines[out + x] = lastIndex;
    }
  }
  return { colors: paletteRgb(palette.colors), scanlines };
}

/** RGBA words as the r, g, b bytes of a PLTE chunk. */
export function paletteRgb(colors: Uint32Array): Uint8Array {
  const rgb = new Uint8Array(colors.length * 3);
  colors.forEach((color, i) => {
    rgb[i * 3] = color & 0xff;
    rgb[i * 3 + 1] = (color >>> 8) & 0xff;
    rgb[i * 3 + 2] = (color >>> 16) & 0xff;
  });
  return rgb;
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
 * The first rows of a palette PNG compressed once, for many images that start with them: an
 * IDAT chunk holding the zlib header and deflate blocks that end in a sync flush (on a byte
 * boundary, not final), so that the rest of the image can follow as a deflate stream of its
 * own in a second IDAT chunk (PNG decoders concatenate IDAT data). The rest refers to nothing
 * in these rows, which costs a few bytes where the two meet.
 */
export interface DeflatedRows {
  chunk: Uint8Array;
  /** The Adler-32 of the rows (filter bytes and indices), to finish the stream with. */
  adler: number;
}

const ADLER_BASE = 65521;

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  // Reduced every 5552 bytes, as zlib does (its NMAX): the sums stay far inside exact integers.
  for (let start = 0; start < bytes.length; start += 5552) {
    const end = Math.min(bytes.length, start + 5552);
    for (let i = start; i < end; i++) {
      a += bytes[i] ?? 0;
      b += a;
    }
    a %= ADLER_BASE;
    b %= ADLER_BASE;
  }
  return ((b << 16) | a) >>> 0;
}

/** The Adler-32 of two byte runs one after the other, from theirs (zlib's adler32_combine). */
function adler32Combine(first: number, second: number, secondLength: number): number {
  const rem = secondLength % ADLER_BASE;
  let a = (first & 0xffff) + (second & 0xffff) + ADLER_BASE - 1;
  let b = ((rem * (first & 0xffff)) % ADLER_BASE) + (first >>> 16) + (second >>> 16) + ADLER_BASE - rem;
  a %= ADLER_BASE;
  b %= ADLER_BASE;
  return ((b << 16) | a) >>> 0;
}

/** `scanlines` (whole rows: filter byte and indices) compressed once as the start of PNGs. */
export function deflateRows(scanlines: Uint8Array, level: number): DeflatedRows {
  const data = new Uint8Array(deflateSync(scanlines, { level, finishFlush: constants.Z_SYNC_FLUSH }));
  return { chunk: chunk("IDAT", data), adler: adler32(scanlines) };
}

/**
 * A palette PNG from its parts: `colors` (r, g, b per entry, at most 256 entries) and
 * `scanlines` (per row a filter byte and one palette index per pixel), deflated at `level`.
 * With `first`, the image's first rows come already compressed and `scanlines` are the rest.
 */
export function encodeIndexedPng(
  width: number,
  height: number,
  colors: Uint8Array,
  scanlines: Uint8Array,
  level: number,
  first?: DeflatedRows,
): Uint8Array {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 3; // colour type: palette
  let zlib = new Uint8Array(deflateSync(scanlines, { level }));
  if (first) {
    // Drop this stream's 2-byte header (the first rows' chunk has the stream's) and replace
    // its Adler-32 trailer with the checksum of all the rows.
    const trailer = new DataView(zlib.buffer, zlib.byteOffset + zlib.length - 4, 4);
    const adler = adler32Combine(first.adler, trailer.getUint32(0), scanlines.length);
    trailer.setUint32(0, adler);
    zlib = zlib.subarray(2);
  }
  const parts = [
    Uint8Array.from(PNG_SIGNATURE),
    chunk("IHDR", header),
    chunk("PLTE", colors),
    ...(first ? [first.chunk] : []),
    chunk("IDAT", zlib),
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
