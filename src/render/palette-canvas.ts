/**
 * An image kept as PNG scanlines with an exact palette, drawn from pieces that each carry
 * their own small palette. A ticket without a poster has about 160 colours (flat fills plus
 * the anti-aliasing of its text, which has few coverage levels), so it needs no quantisation:
 * each piece's colours are looked up once, its rows are copied in as palette indices, and
 * the scanlines go straight to zlib. More than 256 colours throws `PaletteOverflowError` and
 * the caller falls back to rendering the whole image and quantising it (png-encode.ts).
 *
 * A canvas can instead be given a palette chosen beforehand (a ticket with a poster: the
 * palette of its head, png-encode.ts `choosePalette`); every colour drawn then maps onto it.
 */
import { type DeflatedRows, encodeIndexedPng, type MappedPalette, paletteRgb } from "./png-encode";

export const MAX_PALETTE = 256;

/** A picture as palette indices: what a rasterised tile is cached as. */
export interface IndexedImage {
  width: number;
  height: number;
  /** One colour per palette entry, as the little-endian RGBA word of its pixels. */
  colors: Uint32Array;
  /** One palette index per pixel, row by row. */
  indices: Uint8Array;
}

export class PaletteOverflowError extends Error {
  constructor() {
    super(`more than ${MAX_PALETTE} colours`);
    this.name = "PaletteOverflowError";
  }
}

/**
 * `#rrggbb` as the word an opaque pixel of that colour reads as through a Uint32Array over
 * RGBA bytes (little-endian, as everywhere Workers run).
 */
export function rgbaWord(hex: string): number {
  const value = Number.parseInt(hex.slice(1), 16);
  return (((value >>> 16) & 0xff) | (value & 0xff00) | ((value & 0xff) << 16) | 0xff000000) >>> 0;
}

/** Slots of the colour hash in `indexImage`: four per palette entry keeps probes short. */
const HASH_SLOTS = 1024;

/**
 * The exact colours of opaque RGBA pixels (alpha is kept in the word but tickets are drawn on
 * an opaque background). Works in runs of equal pixels, which is what a ticket mostly is,
 * and finds colours in a small open-addressing hash: anti-aliased text changes colour every
 * few pixels, and a Map lookup per change was most of the cost.
 */
export function indexImage(rgba: Uint8Array, width: number, height: number): IndexedImage {
  const count = width * height;
  const aligned = rgba.byteOffset % 4 === 0 ? rgba : rgba.slice();
  const pixels = new Uint32Array(aligned.buffer, aligned.byteOffset, count);
  const indices = new Uint8Array(count);
  const keys = new Uint32Array(HASH_SLOTS);
  const values = new Int16Array(HASH_SLOTS).fill(-1);
  const colors: number[] = [];
  let last = -1;
  let lastIndex = 0;
  for (let p = 0; p < count; p++) {
    const v = pixels[p] ?? 0;
    if (v !== last) {
      last = v;
      let slot = Math.imul(v, 0x9e3779b1) >>> 22;
      while ((values[slot] ?? -1) >= 0 && keys[slot] !== v) slot = (slot + 1) & (HASH_SLOTS - 1);
      lastIndex = values[slot] ?? -1;
      if (lastIndex < 0) {
        if (colors.length === MAX_PALETTE) throw new PaletteOverflowError();
        lastIndex = colors.length;
        colors.push(v);
        keys[slot] = v;
        values[slot] = lastIndex;
      }
    }
    indices[p] = lastIndex;
  }
  return { width, height, colors: Uint32Array.from(colors), indices };
}

export class PaletteCanvas {
  readonly width: number;
  readonly height: number;
  /** Per row a filter byte (0, "None": the PNG spec's advice for palette images) and the indices. */
  readonly scanlines: Uint8Array;
  private readonly colors: number[] = [];
  private readonly lookup = new Map<number, number>();
  private readonly fixed: MappedPalette | undefined;

  constructor(width: number, height: number, palette?: MappedPalette) {
    this.width = width;
    this.height = height;
    this.scanlines = new Uint8Array((width + 1) * height);
    this.fixed = palette;
  }

  /** The palette index of a colour (an RGBA word): added if new, or mapped onto a fixed palette. */
  colorIndex(color: number): number {
    if (this.fixed) return this.fixed.indexOf(color);
    let index = this.lookup.get(color);
    if (index === undefined) {
      if (this.colors.length === MAX_PALETTE) throw new PaletteOverflowError();
      index = this.colors.length;
      this.colors.push(color);
      this.lookup.set(color, index);
    }
    return index;
  }

  /** Fill a rectangle (clipped to the canvas) with one colour. */
  fillRect(x: number, y: number, width: number, height: number, color: number): void {
    const index = this.colorIndex(color);
    const x0 = Math.max(0, x);
    const x1 = Math.min(this.width, x + width);
    const stride = this.width + 1;
    for (let row = Math.max(0, y); row < Math.min(this.height, y + height); row++) {
      this.scanlines.fill(index, row * stride + 1 + x0, row * stride + 1 + x1);
    }
  }

  /**
   * Draw the set cells of a `size`×`size` bitmap (row by row, nonzero = set) in `color`, each
   * as a `scale`×`scale` block, top-left at (x, y); unset cells are left as they are.
   */
  drawBitmap(bits: Uint8Array, size: number, x: number, y: number, scale: number, color: number): void {
    if (x < 0 || y < 0 || x + size * scale > this.width || y + size * scale > this.height) {
      throw new RangeError("bitmap outside the canvas");
    }
    const index = this.colorIndex(color);
    const stride = this.width + 1;
    for (let row = 0; row < size; row++) {
      const first = (y + row * scale) * stride + 1 + x;
      for (let col = 0; col < size; col++) {
        if (bits[row * size + col])
          this.scanlines.fill(index, first + col * scale, first + (col + 1) * scale);
      }
      // The block's other pixel rows repeat its first.
      for (let line = 1; line < scale; line++) {
        this.scanlines.copyWithin(first + line * stride, first, first + size * scale);
      }
    }
  }

  /** Copy `image` in with its top-left at (x, y); it must lie inside the canvas. */
  draw(image: IndexedImage, x: number, y: number): void {
    if (x < 0 || y < 0 || x + image.width > this.width || y + image.height > this.height) {
      throw new RangeError("image outside the canvas");
    }
    const lut = new Uint8Array(image.colors.length);
    // An image already in this canvas's fixed palette (the same array) is copied as it is:
    // mapping a quantised palette's colours back onto it need not give each its own index.
    let identity = this.fixed !== undefined && image.colors === this.fixed.colors;
    if (!identity) {
      identity = true;
      image.colors.forEach((color, i) => {
        lut[i] = this.colorIndex(color);
        if (lut[i] !== i) identity = false;
      });
    }
    const stride = this.width + 1;
    for (let row = 0; row < image.height; row++) {
      const from = row * image.width;
      const to = (y + row) * stride + 1 + x;
      if (identity) {
        this.scanlines.set(image.indices.subarray(from, from + image.width), to);
      } else {
        for (let i = 0; i < image.width; i++) this.scanlines[to + i] = lut[image.indices[from + i] ?? 0] ?? 0;
      }
    }
  }

  /**
   * Copy opaque RGBA pixels in with their top-left at (x, y), each mapped to its palette index
   * (for a fixed palette: a photo's pixels onto the colours chosen for it).
   */
  drawPixels(rgba: Uint8Array, width: number, height: number, x: number, y: number): void {
    if (x < 0 || y < 0 || x + width > this.width || y + height > this.height) {
      throw new RangeError("image outside the canvas");
    }
    const aligned = rgba.byteOffset % 4 === 0 ? rgba : rgba.slice();
    const pixels = new Uint32Array(aligned.buffer, aligned.byteOffset, width * height);
    const stride = this.width + 1;
    let last = -1;
    let lastIndex = 0;
    for (let row = 0; row < height; row++) {
      const to = (y + row) * stride + 1 + x;
      for (let i = 0; i < width; i++) {
        const v = pixels[row * width + i] ?? 0;
        if (v !== last) {
          last = v;
          lastIndex = this.colorIndex(v);
        }
        this.scanlines[to + i] = lastIndex;
      }
    }
  }

  /** The fixed palette's own array, or a copy of the colours added so far. */
  private palette(): Uint32Array {
    return this.fixed ? this.fixed.colors : Uint32Array.from(this.colors);
  }

  /**
   * Rows [top, height) as an IndexedImage: its own copy of the pixels; the palette copied too,
   * or for a fixed palette that palette's own array (see `draw`).
   */
  toImage(top = 0): IndexedImage {
    const height = this.height - top;
    const indices = new Uint8Array(this.width * height);
    for (let row = 0; row < height; row++) {
      const from = (top + row) * (this.width + 1) + 1;
      indices.set(this.scanlines.subarray(from, from + this.width), row * this.width);
    }
    return { width: this.width, height, colors: this.palette(), indices };
  }

  /**
   * The canvas as a palette PNG, deflated at `level`. With `above`, the canvas is the lower
   * part of a taller image whose first rows (in the same palette) come already compressed.
   */
  toPng(level: number, above?: { rows: number; deflated: DeflatedRows }): Uint8Array {
    return encodeIndexedPng(
      this.width,
      this.height + (above?.rows ?? 0),
      paletteRgb(this.palette()),
      this.scanlines,
      level,
      above?.deflated,
    );
  }
}
