/**
 * Ticket SVG → PNG with @resvg/resvg-wasm, inside the Worker.
 *
 * - The wasm is a module import (wrangler bundles `*.wasm` as CompiledWasm; the vitest pool
 *   loads it the same way), compiled at deploy time and instantiated once per isolate.
 * - resvg-wasm has no system fonts: Roboto Regular and Bold (TTF, from
 *   @expo-google-fonts/roboto) are bundled as Data modules (`[[rules]]` in wrangler.toml)
 *   and handed to every render; the same bytes drive the text measurement in text-layout.
 * - Every wasm object (`Resvg`, `RenderedImage`) is freed in a `finally`: the wasm heap is
 *   per isolate and never shrinks, so a leak would outlive the request.
 * - The poster is decoded and scaled by resvg once per poster into the exact pixels of its
 *   strip on the ticket (cached per isolate by its R2 key, which never changes content), and
 *   copied into each ticket's pixels after rendering: a 10-ticket order decodes a 5 MB poster
 *   once, and no ticket pays for decoding or filtering an image. resvg 2.6 decodes PNG, JPEG
 *   and GIF; a WebP, an oversized or a corrupt poster is left out and the ticket renders
 *   without it.
 * - A ticket without a poster is drawn in tiles (ticket-svg.ts `layoutTicket`) straight into
 *   an exact palette (palette-canvas.ts): the parts every ticket of an event and tier shares
 *   are rasterised once per isolate and kept, keyed by their SVG, so a ticket rasterises only
 *   its reference and attendee name (two small canvases) and gets its QR modules drawn in
 *   directly. A queue consumer delivers an order's tickets, and many orders of one event, in
 *   the same isolate; a ticket of an event it has not seen costs a few ms more. The result is
 *   pixel for pixel the whole SVG rendered in one piece (test/ticket-tiles.test.ts), which
 *   remains the way for tickets with a poster and for the unseen case of over 256 colours.
 */
import robotoRegular from "@expo-google-fonts/roboto/400Regular/Roboto_400Regular.ttf";
import robotoBold from "@expo-google-fonts/roboto/700Bold/Roboto_700Bold.ttf";
import { initWasm, Resvg, type ResvgRenderOptions } from "@resvg/resvg-wasm";
import resvgWasm from "@resvg/resvg-wasm/index_bg.wasm";
import { base64 } from "../lib/base64";
import { LruMap } from "../lib/lru";
import { readFontMetrics } from "./font-metrics";
import {
  type IndexedImage,
  indexImage,
  PaletteCanvas,
  PaletteOverflowError,
  rgbaWord,
} from "./palette-canvas";
import { encodePalettePng } from "./png-encode";
import {
  CARD_COLOR,
  composeTicketSvg,
  FONT_FAMILY,
  layoutTicket,
  PAGE_COLOR,
  POSTER_HEIGHT,
  POSTER_WIDTH,
  QR_DARK_COLOR,
  type TicketArt,
  type TicketFonts,
  type TicketLayout,
  type TicketTile,
} from "./ticket-svg";

/** Posters beyond this many pixels are not decoded (RGBA: 4 bytes each in a 128 MB isolate). */
export const MAX_POSTER_PIXELS = 8_000_000;
/** What one ticket PNG may weigh (it is an email attachment, several per order). */
export const MAX_TICKET_PNG_BYTES = 60 * 1024;
/**
 * The poster is first reduced to 2/3 of the strip and then drawn back up with smoothing:
 * photo grain and JPEG noise, which a palette PNG cannot compress, melt into gradients that
 * it can. The softness is invisible at ticket size.
 */
const POSTER_SOFT = {
  width: Math.round((POSTER_WIDTH * 2) / 3),
  height: Math.round((POSTER_HEIGHT * 2) / 3),
};
/** Palette sizes tried in turn until a ticket with a poster fits MAX_TICKET_PNG_BYTES. */
const PALETTE_STEPS = [256, 128, 64, 32];
const POSTER_CACHE_SIZE = 8;
/**
 * Shared tiles (and composed heads) kept per isolate. A head is at most ~0.23 MB of palette
 * indices and every other tile less, so the cache stays under 8 MB while holding the events
 * and tiers an isolate is delivering.
 */
const TILE_CACHE_SIZE = 32;
/** zlib level for tickets without a poster: flat artwork, text and the QR code (about 20 KB). */
const PLAIN_LEVEL = 3;

let wasmReady: Promise<void> | undefined;
/** Per prepared poster, the index in PALETTE_STEPS that last fitted. */
const paletteFor = new WeakMap<PreparedPoster, number>();

let fonts: { buffers: Uint8Array[]; metrics: TicketFonts } | undefined;
const posterCache = new LruMap<string, Promise<PreparedPoster | null>>(POSTER_CACHE_SIZE);
/** Rasterised shared tiles by their background and SVG, the whole input of the rasterisation. */
const tileCache = new LruMap<string, IndexedImage>(TILE_CACHE_SIZE);

/** A poster scaled and cropped to its strip on the ticket: opaque RGBA, row by row. */
export interface PreparedPoster {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** Instantiate resvg once per isolate (a second initWasm would throw). */
export function ensureRenderer(): Promise<void> {
  wasmReady ??= initWasm(resvgWasm).catch((error: unknown) => {
    wasmReady = undefined;
    throw error;
  });
  return wasmReady;
}

function loadFonts() {
  if (!fonts) {
    const regular = new Uint8Array(robotoRegular);
    const bold = new Uint8Array(robotoBold);
    fonts = {
      buffers: [regular, bold],
      metrics: { regular: readFontMetrics(regular), bold: readFontMetrics(bold) },
    };
  }
  return fonts;
}

function renderOptions(background?: string): ResvgRenderOptions {
  return {
    fitTo: { mode: "original" },
    ...(background ? { background } : {}),
    font: {
      fontBuffers: loadFonts().buffers,
      defaultFontFamily: FONT_FAMILY,
      sansSerifFamily: FONT_FAMILY,
    },
  };
}

/** Rasterise an SVG; every wasm object freed before returning. */
function rasterise(svg: string, background?: string): { pixels: Uint8Array; width: number; height: number } {
  const resvg = new Resvg(svg, renderOptions(background));
  try {
    const image = resvg.render();
    try {
      return { pixels: image.pixels, width: image.width, height: image.height };
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

/** An SVG as RGBA pixels with the ticket fonts: what tests compare the tiled rendering with. */
export async function rasteriseSvg(svg: string, background?: string) {
  await ensureRenderer();
  return rasterise(svg, background);
}

function rasteriseToPng(svg: string): Uint8Array {
  const resvg = new Resvg(svg, renderOptions());
  try {
    const image = resvg.render();
    try {
      return image.asPng();
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

type PosterType = "image/png" | "image/jpeg" | "image/gif";

/** Type and size of a poster resvg can decode, read from its header; null for anything else. */
export function posterInfo(bytes: Uint8Array): { type: PosterType; width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 24 && view.getUint32(0) === 0x89504e47 && view.getUint32(4) === 0x0d0a1a0a) {
    return { type: "image/png", width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes.length >= 10 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46) {
    return { type: "image/gif", width: view.getUint16(6, true), height: view.getUint16(8, true) };
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    // Walk the JPEG segments to the first start-of-frame marker, which carries the size.
    let offset = 2;
    while (offset + 9 < bytes.length) {
      if (bytes[offset] !== 0xff) return null;
      const marker = bytes[offset + 1] ?? 0;
      if (marker === 0xff) {
        offset++;
        continue;
      }
      const length = view.getUint16(offset + 2);
      const isFrame =
        marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isFrame) {
        return { type: "image/jpeg", height: view.getUint16(offset + 5), width: view.getUint16(offset + 7) };
      }
      if (length < 2) return null;
      offset += 2 + length;
    }
  }
  return null;
}

/**
 * The poster as the pixels of the ticket's poster strip, or null when it cannot be used (not
 * PNG/JPEG/GIF, too large, corrupt, or it drew nothing). Two passes, once per poster: down to
 * 2/3 of the strip (cover-cropped), then smoothly back up to the strip's exact size.
 */
export async function preparePoster(bytes: Uint8Array): Promise<PreparedPoster | null> {
  const info = posterInfo(bytes);
  if (!info || info.width === 0 || info.height === 0 || info.width * info.height > MAX_POSTER_PIXELS) {
    return null;
  }
  await ensureRenderer();
  const image = (href: string, width: number, height: number) =>
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}"><image width="${width}" height="${height}" preserveAspectRatio="xMidYMid slice" xlink:href="${href}"/></svg>`;
  try {
    const small = image(
      `data:${info.type};base64,${base64.encode(bytes)}`,
      POSTER_SOFT.width,
      POSTER_SOFT.height,
    );
    const softPng = rasteriseToPng(small);
    const strip = rasterise(
      image(`data:image/png;base64,${base64.encode(softPng)}`, POSTER_WIDTH, POSTER_HEIGHT),
    );
    // resvg skips an image it cannot decode and draws nothing: any transparency = unusable.
    for (let i = 3; i < strip.pixels.length; i += 4) {
      if (strip.pixels[i] !== 255) return null;
    }
    return strip;
  } catch {
    return null;
  }
}

/** Copy the poster's pixels into the rendered ticket at its strip. */
function blit(
  target: { pixels: Uint8Array; width: number },
  poster: PreparedPoster,
  x: number,
  y: number,
): void {
  const rowBytes = poster.width * 4;
  for (let row = 0; row < poster.height; row++) {
    target.pixels.set(
      poster.pixels.subarray(row * rowBytes, (row + 1) * rowBytes),
      ((y + row) * target.width + x) * 4,
    );
  }
}

/** `preparePoster` cached per isolate by the poster's R2 key (keys are never reused). */
export function preparePosterCached(
  key: string,
  load: () => Promise<Uint8Array | null>,
): Promise<PreparedPoster | null> {
  let cached = posterCache.get(key);
  if (!cached) {
    cached = load().then((bytes) => (bytes ? preparePoster(bytes) : null));
    posterCache.set(key, cached);
    // A failed read (R2 error) is not remembered: the next ticket tries again.
    cached.catch(() => posterCache.delete(key));
  }
  return cached;
}

export interface RenderedTicket {
  png: Uint8Array;
  width: number;
  height: number;
  withPoster: boolean;
}

/**
 * Render one ticket to a palette PNG of at most MAX_TICKET_PNG_BYTES. `poster` comes from
 * `preparePoster`. With a poster, fewer colours are tried until it fits; if even 32 do not
 * (or anything about the poster fails), the ticket is drawn without it.
 */
export async function renderTicketPng(
  art: TicketArt,
  poster?: PreparedPoster | null,
): Promise<RenderedTicket> {
  await ensureRenderer();
  const { metrics } = loadFonts();
  if (poster && poster.width === POSTER_WIDTH && poster.height === POSTER_HEIGHT) {
    try {
      const { svg, posterAt } = composeTicketSvg({ ...art, withPoster: true }, metrics);
      // The page colour as the canvas fill: cheaper than a full-size rectangle in the SVG.
      const image = rasterise(svg, PAGE_COLOR);
      if (posterAt) blit(image, poster, posterAt.x, posterAt.y);
      // Tickets of one event share the poster: start from the palette that fitted last time.
      for (let step = paletteFor.get(poster) ?? 0; step < PALETTE_STEPS.length; step++) {
        const maxColors = PALETTE_STEPS[step];
        const png = encodePalettePng(image.pixels, image.width, image.height, { maxColors, level: 6 });
        if (png.byteLength <= MAX_TICKET_PNG_BYTES) {
          paletteFor.set(poster, step);
          return { png, width: image.width, height: image.height, withPoster: true };
        }
      }
    } catch {
      // Whatever went wrong with the poster, the ticket itself must still render.
    }
  }
  const layout = layoutTicket({ ...art, withPoster: false }, metrics);
  try {
    const png = renderTiles(layout);
    return { png, width: layout.width, height: layout.height, withPoster: false };
  } catch (error) {
    if (!(error instanceof PaletteOverflowError)) throw error;
  }
  // More than 256 colours (not seen in practice): the whole ticket at once, quantised.
  const image = rasterise(layout.svg, PAGE_COLOR);
  const png = encodePalettePng(image.pixels, image.width, image.height, { level: PLAIN_LEVEL });
  return { png, width: image.width, height: image.height, withPoster: false };
}

const tileKey = (tile: TicketTile) => `${tile.background}${tile.svg}`;

/** A tile's pixels as palette indices: shared tiles from the cache, or rasterised and kept. */
function tileImage(tile: TicketTile): IndexedImage {
  const key = tileKey(tile);
  const cached = tile.perTicket ? undefined : tileCache.get(key);
  if (cached) {
    tileCache.set(key, cached);
    return cached;
  }
  const { pixels, width, height } = rasterise(tile.svg, tile.background);
  const image = indexImage(pixels, width, height);
  if (!tile.perTicket) tileCache.set(key, image);
  return image;
}

/** Rows outside tiles: the page colour, the card between its edges. */
function fillCard(canvas: PaletteCanvas, layout: TicketLayout, top: number): void {
  const rows = canvas.height - top;
  canvas.fillRect(0, top, canvas.width, rows, rgbaWord(PAGE_COLOR));
  canvas.fillRect(layout.card.left, top, layout.card.right - layout.card.left, rows, rgbaWord(CARD_COLOR));
}

/**
 * The head composed once per event and tier and kept whole (under the keys of all its tiles),
 * so that a ticket starts as one copy of it; its tiles are kept too, for the next tier or
 * event that shares some (the band always, the date and venue often).
 */
function headImage(layout: TicketLayout): IndexedImage {
  const key = `head${layout.head.tiles.map(tileKey).join("")}`;
  const cached = tileCache.get(key);
  if (cached) {
    tileCache.set(key, cached);
    return cached;
  }
  const canvas = new PaletteCanvas(layout.width, layout.head.height);
  fillCard(canvas, layout, 0);
  for (const tile of layout.head.tiles) canvas.draw(tileImage(tile), tile.x, tile.y);
  const image = canvas.toImage();
  tileCache.set(key, image);
  return image;
}

/**
 * The ticket composed from its tiles straight into PNG scanlines: the head first (its palette
 * becomes the ticket's as is, so its rows are plain copies), the card below it, the ticket's
 * other tiles, and the QR modules as blocks of whole pixels (what resvg draws for the
 * crisp-edged path at whole-pixel module sizes).
 */
function renderTiles(layout: TicketLayout): Uint8Array {
  const canvas = new PaletteCanvas(layout.width, layout.height);
  canvas.draw(headImage(layout), 0, 0);
  fillCard(canvas, layout, layout.head.height);
  for (const tile of layout.tiles) canvas.draw(tileImage(tile), tile.x, tile.y);
  const { x, y, modulePx, symbol } = layout.qr;
  canvas.drawBitmap(symbol.dark, symbol.modules, x, y, modulePx, rgbaWord(QR_DARK_COLOR));
  return canvas.toPng(PLAIN_LEVEL);
}

/** The bundled fonts' metrics (for callers that lay text out the same way). */
export function ticketFonts(): TicketFonts {
  return loadFonts().metrics;
}
