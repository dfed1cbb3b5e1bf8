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
 *   strip on the ticket (cached per isolate by its R2 key, which never changes content): a
 *   10-ticket order decodes a 5 MB poster once. resvg 2.6 decodes PNG, JPEG and GIF; a WebP,
 *   an oversized or a corrupt poster is left out and the ticket renders without it.
 * - A ticket is drawn in tiles (ticket-svg.ts `layoutTicket`): the parts every ticket of an
 *   event and tier shares are rasterised once per isolate and kept, keyed by their SVG, so a
 *   ticket rasterises only its reference and attendee name (two small canvases) and gets its
 *   QR modules drawn in directly. A queue consumer delivers an order's tickets, and many
 *   orders of one event, in the same isolate; a ticket of an event it has not seen costs a few
 *   ms more.
 * - Without a poster the tiles go into an exact palette (palette-canvas.ts): the result is
 *   pixel for pixel the whole SVG rendered in one piece (test/ticket-tiles.test.ts), which
 *   remains the way for the unseen case of over 256 colours.
 * - With a poster, the head (band, poster, event, tier) is quantised once per poster, head and
 *   palette size (png-encode.ts `choosePalette`; the poster is most of the head, so it gets
 *   the colours it got when the whole ticket was quantised), with the page, the card and the
 *   QR modules as exact entries; its rows above the ticket's own parts are deflated once too.
 *   A ticket copies the rest of the head, maps its own tiles onto the head's palette and
 *   compresses only its lower part (test/ticket-tiles.test.ts compares it with the whole SVG).
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
import {
  choosePalette,
  type DeflatedRows,
  deflateRows,
  encodePalettePng,
  type MappedPalette,
} from "./png-encode";
import {
  CARD_COLOR,
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
const MAX_POSTER_PIXELS = 8_000_000;
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
/**
 * Palette entries of their own on a ticket with a poster: the page and the card (flat fills
 * that run on from the head into the ticket's own rows) and the QR code's dark modules.
 */
const EXACT_COLORS = [rgbaWord(PAGE_COLOR), rgbaWord(CARD_COLOR), rgbaWord(QR_DARK_COLOR)];
const POSTER_CACHE_SIZE = 8;
/**
 * Quantised heads with a poster kept per isolate: each about 0.15 MB (the head's rows from the
 * first per-ticket part down as indices, the rows above deflated, the palette's bin table).
 */
const POSTER_HEAD_CACHE_SIZE = 8;
/**
 * zlib level for a poster head's rows, compressed once per head (the photo is most of the PNG):
 * 9 takes four times as long for 0.5 KB less.
 */
const POSTER_HEAD_LEVEL = 6;
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
/** Heads with their poster, quantised: see `posterHead`. */
const posterHeadCache = new LruMap<string, PosterHead>(POSTER_HEAD_CACHE_SIZE);
/**
 * A number per prepared poster for cache keys: a poster is an object (one per R2 key and
 * isolate, or whatever a caller prepared), and two posters must never share a head.
 */
const posterIds = new WeakMap<PreparedPoster, number>();
let lastPosterId = 0;

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
      const layout = layoutTicket({ ...art, withPoster: true }, metrics);
      // Tickets of one event share the poster: start from the palette that fitted last time.
      for (let step = paletteFor.get(poster) ?? 0; step < PALETTE_STEPS.length; step++) {
        const last = step === PALETTE_STEPS.length - 1;
        const png = renderPosterTiles(layout, poster, PALETTE_STEPS[step] ?? 32, last);
        if (png.byteLength <= MAX_TICKET_PNG_BYTES) {
          paletteFor.set(poster, step);
          return { png, width: layout.width, height: layout.height, withPoster: true };
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

/** A head's key: its tiles' keys, the whole input of its pixels but for a poster. */
const headKey = (layout: TicketLayout) => `head${layout.head.tiles.map(tileKey).join("")}`;

/** The head from its tiles in an exact palette; with a poster, its strip is left as card. */
function composeHead(layout: TicketLayout): IndexedImage {
  const canvas = new PaletteCanvas(layout.width, layout.head.height);
  fillCard(canvas, layout, 0);
  for (const tile of layout.head.tiles) canvas.draw(tileImage(tile), tile.x, tile.y);
  return canvas.toImage();
}

/**
 * The head composed once per event and tier and kept whole (under the keys of all its tiles),
 * so that a ticket starts as one copy of it; its tiles are kept too, for the next tier or
 * event that shares some (the band always, the date and venue often).
 */
function headImage(layout: TicketLayout): IndexedImage {
  const key = headKey(layout);
  const cached = tileCache.get(key);
  if (cached) {
    tileCache.set(key, cached);
    return cached;
  }
  const image = composeHead(layout);
  tileCache.set(key, image);
  return image;
}

/**
 * Everything below the head, and the ticket's own parts over it, drawn into `canvas`, which
 * holds the ticket's rows from `top` down: the card, the ticket's tiles, and the QR modules as
 * blocks of whole pixels (what resvg draws for the crisp-edged path at whole-pixel module
 * sizes).
 */
function drawTicketParts(canvas: PaletteCanvas, layout: TicketLayout, top: number): void {
  fillCard(canvas, layout, layout.head.height - top);
  for (const tile of layout.tiles) canvas.draw(tileImage(tile), tile.x, tile.y - top);
  const { x, y, modulePx, symbol } = layout.qr;
  canvas.drawBitmap(symbol.dark, symbol.modules, x, y - top, modulePx, rgbaWord(QR_DARK_COLOR));
}

/**
 * The ticket composed from its tiles straight into PNG scanlines: the head first (its palette
 * becomes the ticket's as is, so its rows are plain copies), then the rest.
 */
function renderTiles(layout: TicketLayout): Uint8Array {
  const canvas = new PaletteCanvas(layout.width, layout.height);
  canvas.draw(headImage(layout), 0, 0);
  drawTicketParts(canvas, layout, 0);
  return canvas.toPng(PLAIN_LEVEL);
}

/** A head with its poster in a palette chosen for it, ready for every ticket that has it. */
interface PosterHead {
  palette: MappedPalette;
  /** Rows [0, top), where no ticket draws anything of its own, compressed once. */
  deflated: DeflatedRows;
  /** Rows [top, head height) as indices in `palette`, for each ticket to draw its parts over. */
  rest: IndexedImage;
}

/**
 * The head with the poster in its strip, quantised to `maxColors` (the page, card and QR
 * colours exact), cached per poster, palette size, split row and head. The palette comes
 * from the head alone: the ticket's own parts are text in the head's colours, on the card,
 * and map onto it, so every ticket of the head gets the same colours whatever came before.
 */
function posterHead(
  layout: TicketLayout,
  poster: PreparedPoster,
  maxColors: number,
  top: number,
): PosterHead {
  let posterId = posterIds.get(poster);
  if (posterId === undefined) {
    posterId = ++lastPosterId;
    posterIds.set(poster, posterId);
  }
  const key = `${posterId} ${maxColors} ${top} ${headKey(layout)}`;
  const cached = posterHeadCache.get(key);
  if (cached) {
    posterHeadCache.set(key, cached);
    return cached;
  }
  const { width, posterAt } = layout;
  const { height } = layout.head;
  if (!posterAt || top > height) throw new RangeError("no poster strip in the head");
  // Composed, not kept: its tiles are in the tile cache, and the quantised head is kept here.
  const head = composeHead(layout);
  const pixels = new Uint32Array(width * height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = head.colors[head.indices[i] ?? 0] ?? 0;
  const posterRgba = poster.pixels.byteOffset % 4 === 0 ? poster.pixels : poster.pixels.slice();
  const posterPixels = new Uint32Array(
    posterRgba.buffer,
    posterRgba.byteOffset,
    poster.width * poster.height,
  );
  for (let row = 0; row < poster.height; row++) {
    pixels.set(
      posterPixels.subarray(row * poster.width, (row + 1) * poster.width),
      (posterAt.y + row) * width + posterAt.x,
    );
  }
  const rgba = new Uint8Array(pixels.buffer);
  const palette = choosePalette(rgba, width, height, maxColors, EXACT_COLORS);
  const canvas = new PaletteCanvas(width, height, palette);
  canvas.drawPixels(rgba, width, height, 0, 0);
  const entry: PosterHead = {
    palette,
    deflated: deflateRows(canvas.scanlines.subarray(0, top * (width + 1)), POSTER_HEAD_LEVEL),
    rest: canvas.toImage(top),
  };
  posterHeadCache.set(key, entry);
  return entry;
}

/**
 * A ticket with a poster in `maxColors` colours: the head's rows above the ticket's own parts
 * come compressed from the cache; the rest of the head is copied, the ticket's parts drawn over
 * and under it in the head's palette, and only those rows compressed. At the last palette
 * size, a PNG over the limit is compressed once more at zlib's best (about 4 KB smaller, 15 ms)
 * before the poster is given up.
 */
function renderPosterTiles(
  layout: TicketLayout,
  poster: PreparedPoster,
  maxColors: number,
  last: boolean,
): Uint8Array {
  const top = Math.min(layout.qr.y, ...layout.tiles.map((tile) => tile.y));
  const head = posterHead(layout, poster, maxColors, top);
  const canvas = new PaletteCanvas(layout.width, layout.height - top, head.palette);
  canvas.draw(head.rest, 0, 0);
  drawTicketParts(canvas, layout, top);
  const above = { rows: top, deflated: head.deflated };
  const png = canvas.toPng(PLAIN_LEVEL, above);
  return png.byteLength > MAX_TICKET_PNG_BYTES && last ? canvas.toPng(9, above) : png;
}

/** The bundled fonts' metrics (for callers that lay text out the same way). */
export function ticketFonts(): TicketFonts {
  return loadFonts().metrics;
}
