/**
 * The tiled ticket rendering (src/render/render-ticket.ts): shared tiles cached per isolate,
 * the ticket's own parts drawn fresh, composed in an exact palette. It must give exactly the
 * pixels of the whole ticket's SVG rendered in one piece, whatever was rendered before it.
 * With a poster, the head is quantised once and the ticket's parts map onto its palette: the
 * poster must be at least as good as quantising the whole ticket at once, and the rest within
 * quantisation of the whole SVG.
 */
import { convertIndexedToRgb, decode, encode } from "fast-png";
import { describe, expect, it } from "vitest";
import {
  indexImage,
  MAX_PALETTE,
  PaletteCanvas,
  PaletteOverflowError,
  rgbaWord,
} from "../src/render/palette-canvas";
import { choosePalette, deflateRows, encodeIndexedPng, encodePalettePng } from "../src/render/png-encode";
import {
  MAX_TICKET_PNG_BYTES,
  type PreparedPoster,
  preparePoster,
  rasteriseSvg,
  renderTicketPng,
  ticketFonts,
} from "../src/render/render-ticket";
import { graphemes } from "../src/render/text-layout";
import {
  CARD_COLOR,
  layoutTicket,
  PAGE_COLOR,
  POSTER_HEIGHT,
  POSTER_WIDTH,
  QR_DARK_COLOR,
  type TicketArt,
} from "../src/render/ticket-svg";
import { photoJpeg, readQr } from "./helpers/tickets";

const QR = `eyJhbGciOiJFZERTQSIsImtpZCI6IjNxZ0ZnUjNsOUM2Uk1MU0IifQ.${"eyJ0IjoiM2Q".padEnd(190, "Q")}.${"s".repeat(86)}`;

const base: TicketArt = {
  ticketId: "0b6f4e4a-3c1e-4d5b-9d7e-2f4a1c9e8b7d",
  qrContent: QR,
  eventTitle: "Nairobi Jazz Night: Sauti za Usiku Live at the Carnivore",
  startAt: Date.UTC(2026, 11, 5, 15, 0, 0),
  locationName: "Carnivore Grounds, Langata Road, Nairobi",
  tierName: "VIP Early Bird",
  attendeeName: "Wanjiku Kamau",
  position: { index: 1, count: 4 },
};

/** Render `art` tiled and in one piece; the number of pixels that differ (0 = identical). */
async function differingPixels(art: TicketArt): Promise<number> {
  const ticket = await renderTicketPng(art);
  const whole = await rasteriseSvg(layoutTicket(art, ticketFonts()).svg, PAGE_COLOR);
  const image = decode(ticket.png);
  expect(image.palette, "an exact palette PNG").toBeDefined();
  expect({ width: image.width, height: image.height }).toEqual({ width: whole.width, height: whole.height });
  const rgb = convertIndexedToRgb(image);
  let differing = 0;
  for (let p = 0; p < image.width * image.height; p++) {
    for (let c = 0; c < 3; c++) {
      if (rgb[p * 3 + c] !== whole.pixels[p * 4 + c]) {
        differing++;
        break;
      }
    }
  }
  return differing;
}

describe("tiled ticket rendering", () => {
  it("draws exactly the pixels of the whole ticket's SVG, whatever the text", async () => {
    const cases: TicketArt[] = [
      base,
      { ...base, eventTitle: "Short", locationName: "", position: undefined },
      // Accents above and descenders below every line, at the tiles' edges.
      {
        ...base,
        eventTitle: "Ǻǻ Ąęść ÀÉÎÕÜ gjpqy Ǻǻ Ąęść ÀÉÎÕÜ gjpqy Ǻǻ Ąęść ÀÉÎÕÜ gjpqy",
        startAt: Date.UTC(2026, 8, 5, 15, 0, 0),
        locationName: "Ǻngjpqy Ąę — Ñyeri gjpqy",
        tierName: "Ǻgjpqy ÀÉ",
        attendeeName: "ǺÅ Ñgugi-Wanjiru gjpqy",
        position: { index: 12, count: 12 },
      },
      { ...base, attendeeName: `Achieng 🎉 ${"Otieno-Wanjiru ".repeat(20)}`, tierName: "W".repeat(60) },
    ];
    for (const art of cases) {
      expect(await differingPixels(art), art.eventTitle).toBe(0);
    }
    expect(readQr((await renderTicketPng(base)).png).text).toBe(QR);
  });

  it("never reuses another event's, tier's, date's or attendee's pixels", async () => {
    // Each variant follows the others, so every shared tile it could wrongly reuse is cached.
    const variants: TicketArt[] = [
      base,
      { ...base, eventTitle: "Nairobi Jazz Night: Sauti za Usiku Live at the Carnivores" },
      { ...base, startAt: base.startAt + 60_000 },
      { ...base, locationName: "Carnivore Grounds, Langata Road, Nairobi." },
      { ...base, tierName: "VIP Early Birds" },
      { ...base, attendeeName: "Wanjiku Kamaü" },
      { ...base, ticketId: "0b6f4e4a-3c1e-4d5b-9d7e-2f4a1c9e8b7e" },
      { ...base, position: { index: 2, count: 4 } },
      { ...base, position: { index: 1, count: 1 } },
      { ...base, qrContent: `${QR}x` },
      base,
    ];
    for (const art of variants) {
      expect(await differingPixels(art), JSON.stringify(art)).toBe(0);
    }
  });
});

/** The whole ticket's SVG rendered in one piece with the poster copied into its strip: RGBA. */
async function wholeWithPoster(art: TicketArt, poster: PreparedPoster) {
  const layout = layoutTicket({ ...art, withPoster: true }, ticketFonts());
  const whole = await rasteriseSvg(layout.svg, PAGE_COLOR);
  const at = layout.posterAt ?? { x: 0, y: 0 };
  for (let row = 0; row < poster.height; row++) {
    whole.pixels.set(
      poster.pixels.subarray(row * poster.width * 4, (row + 1) * poster.width * 4),
      ((at.y + row) * whole.width + at.x) * 4,
    );
  }
  return { ...whole, at };
}

/** Peak signal-to-noise ratio of the poster strip of an RGB(A) image against the poster (dB). */
function posterPsnr(
  image: ArrayLike<number>,
  channels: number,
  width: number,
  at: { x: number; y: number },
  poster: PreparedPoster,
): number {
  let squares = 0;
  for (let y = 0; y < poster.height; y++) {
    for (let x = 0; x < poster.width; x++) {
      for (let c = 0; c < 3; c++) {
        const d =
          Number(image[((at.y + y) * width + at.x + x) * channels + c]) -
          Number(poster.pixels[(y * poster.width + x) * 4 + c]);
        squares += d * d;
      }
    }
  }
  return 10 * Math.log10((255 * 255) / (squares / (poster.width * poster.height * 3)));
}

/**
 * A ticket with a poster against the whole SVG with the poster copied in: outside the poster
 * strip the largest channel difference (and whether page, card and QR modules are exact), and
 * the poster strip's PSNR against the poster.
 */
async function compareWithPoster(art: TicketArt, poster: PreparedPoster) {
  const ticket = await renderTicketPng(art, poster);
  expect(ticket.withPoster).toBe(true);
  const whole = await wholeWithPoster(art, poster);
  const image = decode(ticket.png);
  expect({ width: image.width, height: image.height }).toEqual({ width: whole.width, height: whole.height });
  const rgb = convertIndexedToRgb(image);
  const exact = new Set([PAGE_COLOR, CARD_COLOR, QR_DARK_COLOR].map(rgbaWord));
  const words = new Uint32Array(whole.pixels.buffer, whole.pixels.byteOffset, whole.width * whole.height);
  let largest = 0;
  let flatExact = true;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const inStrip =
        x >= whole.at.x && x < whole.at.x + POSTER_WIDTH && y >= whole.at.y && y < whole.at.y + POSTER_HEIGHT;
      if (inStrip) continue;
      const p = y * image.width + x;
      let d = 0;
      for (let c = 0; c < 3; c++)
        d = Math.max(d, Math.abs(Number(rgb[p * 3 + c]) - (whole.pixels[p * 4 + c] ?? 0)));
      largest = Math.max(largest, d);
      if (d && exact.has(words[p] ?? 0)) flatExact = false;
    }
  }
  return {
    ticket,
    whole,
    palette: image.palette?.length ?? 0,
    largest,
    flatExact,
    psnr: posterPsnr(rgb, 3, image.width, whole.at, poster),
  };
}

describe("tiled ticket rendering with a poster", () => {
  it("keeps the QR code readable, the PNG within 60 KB, and the poster as good as quantising the whole ticket", async () => {
    const poster = await preparePoster(photoJpeg(1080, 1350));
    if (!poster) throw new Error("the test poster did not prepare");
    const result = await compareWithPoster(base, poster);
    expect(result.ticket.png.byteLength).toBeLessThanOrEqual(MAX_TICKET_PNG_BYTES);
    // This poster does not fit at 256 colours: the ticket took the next palette size down.
    expect(result.palette).toBeLessThanOrEqual(128);
    expect(readQr(result.ticket.png).text).toBe(QR);
    // Page, card and QR modules are exact; the text only moves within quantisation.
    expect(result.flatExact).toBe(true);
    expect(result.largest).toBeLessThanOrEqual(48);
    // The whole ticket quantised at once to as many colours: the way tickets with a poster
    // were made before the head was quantised once.
    const maxColors = [256, 128, 64, 32].find((n) => n >= result.palette && n / 2 < result.palette) ?? 256;
    const once = decode(
      encodePalettePng(result.whole.pixels, result.whole.width, result.whole.height, { maxColors }),
    );
    const oncePsnr = posterPsnr(convertIndexedToRgb(once), 3, once.width, result.whole.at, poster);
    expect(result.psnr).toBeGreaterThanOrEqual(oncePsnr);
  });

  it("never reuses another poster's, event's, tier's or attendee's pixels", async () => {
    const first = await preparePoster(photoJpeg(1080, 1350));
    // Another crop and scale of the same pattern: every pixel of the strip differs.
    const second = await preparePoster(photoJpeg(900, 500, 16, 11));
    if (!first || !second) throw new Error("the test posters did not prepare");
    const variants: Array<[TicketArt, PreparedPoster]> = [
      [base, first],
      [base, second],
      [{ ...base, eventTitle: "Nairobi Jazz Night: Sauti za Usiku Live at the Carnivores" }, second],
      [{ ...base, startAt: base.startAt + 60_000 }, first],
      [{ ...base, tierName: "VIP Early Birds" }, first],
      [{ ...base, attendeeName: "Wanjiku Kamaü" }, second],
      [{ ...base, ticketId: "0b6f4e4a-3c1e-4d5b-9d7e-2f4a1c9e8b7e" }, first],
      [{ ...base, position: { index: 2, count: 4 } }, second],
      [{ ...base, qrContent: `${QR}x` }, first],
      [base, first],
    ];
    for (const [art, poster] of variants) {
      const result = await compareWithPoster(art, poster);
      const label = `${JSON.stringify(art)} on poster ${poster === first ? 1 : 2}`;
      // Another event's or attendee's text would differ by ink against white (over 200).
      expect(result.largest, label).toBeLessThanOrEqual(48);
      expect(result.flatExact, label).toBe(true);
      const other = poster === first ? second : first;
      const rgb = convertIndexedToRgb(decode(result.ticket.png));
      expect(result.psnr, label).toBeGreaterThan(25);
      expect(posterPsnr(rgb, 3, result.whole.width, result.whole.at, other), label).toBeLessThan(20);
      expect(readQr(result.ticket.png).text, label).toBe(art.qrContent);
    }
  });

  it("takes fewer colours, down to 32, until even a poster of noise fits in 60 KB", async () => {
    // Noise at the size the poster is softened to: as little for deflate to find as a poster
    // can leave. It fits only at the last palette size, compressed at zlib's best (about 58 KB;
    // were it still too large, the ticket would leave the poster out instead).
    const width = 373;
    const height = 160;
    const noise = new Uint8Array(width * height * 3);
    let state = 3;
    for (let i = 0; i < noise.length; i++) {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      noise[i] = state >>> 23;
    }
    const poster = await preparePoster(encode({ width, height, data: noise, channels: 3 }));
    if (!poster) throw new Error("the noise poster did not prepare");
    const ticket = await renderTicketPng(base, poster);
    expect(ticket.png.byteLength).toBeLessThanOrEqual(MAX_TICKET_PNG_BYTES);
    expect(readQr(ticket.png).text).toBe(QR);
    expect(ticket.withPoster).toBe(true);
    expect(decode(ticket.png).palette?.length).toBeLessThanOrEqual(32);
  });
});

describe("palette PNG encoding", () => {
  it("compresses the first rows once and continues any image that starts with them", () => {
    const width = 37;
    const height = 20;
    const colors = Uint8Array.from({ length: 16 * 3 }, (_, i) => (i * 41) % 256);
    const scanlines = new Uint8Array((width + 1) * height);
    let state = 9;
    for (let row = 0; row < height; row++) {
      for (let x = 1; x <= width; x++) {
        state = (state * 1103515245 + 12345) & 0x7fffffff;
        scanlines[row * (width + 1) + x] = row < 8 ? state % 16 : (x + row) % 3;
      }
    }
    const whole = decode(encodeIndexedPng(width, height, colors, scanlines, 6));
    for (const rows of [1, 8, 13]) {
      const first = deflateRows(scanlines.subarray(0, rows * (width + 1)), 9);
      const png = encodeIndexedPng(width, height, colors, scanlines.subarray(rows * (width + 1)), 3, first);
      // fast-png inflates with pako, which checks the stream's Adler-32.
      const image = decode(png);
      expect(Array.from(image.data), `first ${rows} rows`).toEqual(Array.from(whole.data));
    }
  });

  it("keeps exact colours exact and maps colours the image lacked onto the nearest entry", () => {
    const rgba = new Uint8Array(64 * 64 * 4);
    for (let p = 0; p < 64 * 64; p++) {
      const white = p % 7 === 0;
      rgba.set(white ? [255, 255, 255, 255] : [(p * 3) % 256, (p * 5) % 256, 128, 255], p * 4);
    }
    const exact = [rgbaWord("#ffffff"), rgbaWord("#000000")];
    const palette = choosePalette(rgba, 64, 64, 16, exact);
    expect(palette.colors.length).toBeLessThanOrEqual(16);
    expect(Array.from(palette.colors.subarray(0, 2))).toEqual(exact);
    expect(palette.indexOf(rgbaWord("#ffffff"))).toBe(0);
    expect(palette.indexOf(rgbaWord("#000000"))).toBe(1);
    // Near-black was not in the image: it goes to black, not to whatever its bin would say.
    expect(palette.indexOf(rgbaWord("#050505"))).toBe(1);
    const grey = palette.indexOf(rgbaWord("#808080"));
    const distance = (word: number) =>
      ((word & 0xff) - 128) ** 2 + (((word >>> 8) & 0xff) - 128) ** 2 + (((word >>> 16) & 0xff) - 128) ** 2;
    const best = Math.min(...Array.from(palette.colors, distance));
    expect(distance(palette.colors[grey] ?? 0)).toBe(best);
  });
});

describe("palette canvas", () => {
  it("keeps colours exact and refuses a 257th", () => {
    const rgba = new Uint8Array(16 * 17 * 4);
    for (let p = 0; p < 16 * 16; p++) rgba.set([p, 255 - p, 7, 255], p * 4);
    const image = indexImage(rgba.subarray(0, 16 * 16 * 4), 16, 16);
    expect(image.colors).toHaveLength(MAX_PALETTE);
    expect(image.colors[3]).toBe(rgbaWord("#03fc07"));
    rgba.set([1, 2, 3, 255], 16 * 16 * 4);
    expect(() => indexImage(rgba, 16, 17)).toThrow(PaletteOverflowError);

    const canvas = new PaletteCanvas(16, 16);
    canvas.draw(image, 0, 0);
    expect(() => canvas.colorIndex(rgbaWord("#010203"))).toThrow(PaletteOverflowError);
    expect(() => canvas.draw(image, 1, 0)).toThrow(RangeError);
  });

  it("draws a bitmap as blocks of whole pixels", () => {
    const canvas = new PaletteCanvas(5, 4);
    canvas.fillRect(0, 0, 5, 4, rgbaWord("#ffffff"));
    canvas.drawBitmap(Uint8Array.from([1, 0, 0, 1]), 2, 1, 0, 2, rgbaWord("#000000"));
    const rows = [0, 1, 2, 3].map((y) => Array.from(canvas.scanlines.subarray(y * 6 + 1, y * 6 + 6)));
    expect(rows).toEqual([
      [0, 1, 1, 0, 0],
      [0, 1, 1, 0, 0],
      [0, 0, 0, 1, 1],
      [0, 0, 0, 1, 1],
    ]);
  });
});

describe("graphemes", () => {
  it("splits text below U+0300 as the segmenter does, without it", () => {
    const segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });
    const samples = ["Wanjiku Kamau", "Zoë Ó'Brien – ©®", "a\r\nb\n\rc", "ʰʼ˥ ÿĀž ǅ", ""];
    let state = 5;
    for (let i = 0; i < 200; i++) {
      let text = "";
      for (let j = 0; j < 20; j++) {
        state = (state * 1103515245 + 12345) & 0x7fffffff;
        text += String.fromCharCode(state % 0x300);
      }
      samples.push(text);
    }
    for (const text of samples) {
      expect(graphemes(text)).toEqual(Array.from(segmenter.segment(text), (s) => s.segment));
    }
    // Above U+0300 the segmenter decides: a combining accent stays with its letter.
    expect(graphemes("e\u0301a")).toEqual(["e\u0301", "a"]);
  });
});
