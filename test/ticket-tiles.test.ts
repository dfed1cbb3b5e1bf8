/**
 * The tiled ticket rendering (src/delivery/render-ticket.ts): shared tiles cached per isolate,
 * the ticket's own parts drawn fresh, composed in an exact palette. It must give exactly the
 * pixels of the whole ticket's SVG rendered in one piece, whatever was rendered before it.
 */
import { convertIndexedToRgb, decode } from "fast-png";
import { describe, expect, it } from "vitest";
import {
  indexImage,
  MAX_PALETTE,
  PaletteCanvas,
  PaletteOverflowError,
  rgbaWord,
} from "../src/delivery/palette-canvas";
import { rasteriseSvg, renderTicketPng, ticketFonts } from "../src/delivery/render-ticket";
import { graphemes } from "../src/delivery/text-layout";
import { layoutTicket, PAGE_COLOR, type TicketArt } from "../src/delivery/ticket-svg";
import { readQr } from "./helpers/tickets";

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
