/**
 * The ticket as an SVG document (pure: no I/O, no wasm), which render-ticket.ts rasterises.
 *
 * Portrait, 600 px wide: brand band, the event poster when there is one, title, date and
 * time in Nairobi, venue, a perforation, tier / reference / attendee, and the QR code with
 * its quiet zone. Every user string goes through text-layout (drawable characters only,
 * measured and truncated) and is XML-escaped. A handful of flat colours keeps the palette
 * PNG small; the QR code is drawn at a whole number of pixels per module, black on white.
 * The poster is not in the SVG: its strip is left for the renderer to fill with pixels.
 *
 * The same drawing also comes cut into tiles (`layoutTicket`): the head (band, event, tier)
 * that every ticket of an event and tier shares, the two tiles only one ticket has
 * (reference, attendee name), a few shared by all tickets, and the QR code's place. The
 * renderer caches shared tiles' pixels and rasterises only what is the ticket's own.
 */
import { toNairobiIso } from "../lib/time";
import type { FontMetrics } from "./font-metrics";
import { type QrSymbol, qrPath as qrModulesPath, qrSymbol } from "./qr";
import { drawableText, ellipsize, escapeXml, type TextStyle, wrapText } from "./text-layout";

const TICKET_WIDTH = 600;
export const FONT_FAMILY = "Roboto";

/** Behind the card; the renderer fills the canvas with it (see render-ticket.ts). */
export const PAGE_COLOR = "#ede9fe";
export const CARD_COLOR = "#ffffff";
/** The QR code's dark modules (its light ones are the card). */
export const QR_DARK_COLOR = "#000000";
const PAGE = PAGE_COLOR;
const CARD = CARD_COLOR;
const BRAND = "#5b21b6";
const BRAND_SOFT = "#ddd6fe";
const INK = "#111827";
const MUTED = "#4b5563";
const LABEL = "#6b7280";
const RULE = "#d1d5db";

const INSET = 20;
const PAD = 28;
const LEFT = INSET + PAD;
const CONTENT_WIDTH = TICKET_WIDTH - 2 * LEFT;
const BAND_HEIGHT = 72;
const RADIUS = 20;
/** The poster strip under the band: render-ticket.ts copies the prepared poster's pixels there. */
export const POSTER_WIDTH = 560;
export const POSTER_HEIGHT = 240;
const QR_QUIET_MODULES = 4;
const QR_TARGET_PX = 340;

export interface TicketFonts {
  regular: FontMetrics;
  bold: FontMetrics;
}

export interface TicketArt {
  ticketId: string;
  /** What the QR code holds: the ticket's `qr_code_hash`. */
  qrContent: string;
  eventTitle: string;
  startAt: number;
  locationName: string;
  tierName: string;
  attendeeName: string;
  /** "Ticket 2 of 3" when an order has several. */
  position?: { index: number; count: number };
  /** Leave the poster strip under the band (the renderer copies the poster's pixels in). */
  withPoster?: boolean;
}

export interface TicketSvg {
  svg: string;
  width: number;
  height: number;
  /** Top-left of the POSTER_WIDTH × POSTER_HEIGHT strip, when `withPoster`. */
  posterAt: { x: number; y: number } | null;
}

/**
 * A rectangle of the ticket as its own small SVG document (ticket coordinates, the viewBox is
 * the rectangle), which rasterises to exactly the pixels the whole ticket's SVG has there.
 * Its edges run where nothing crosses them: between text lines with room for the font's
 * tallest accents and deepest descenders, and across the card's straight stretch (a tile's
 * part of the card is a rounded rectangle whose other ends lie outside the tile).
 */
export interface TicketTile {
  x: number;
  y: number;
  width: number;
  height: number;
  /** The colour behind the tile's content: the rasteriser's canvas fill. */
  background: string;
  svg: string;
  /**
   * Only this ticket has it (reference, attendee name): drawn every time. Every other tile
   * is the same for all tickets of an event, a tier, a date, or for all tickets at all, and
   * its `svg` and `background` — the whole input of the rasterisation — are what the renderer
   * caches its pixels by.
   */
  perTicket: boolean;
}

/**
 * The ticket, for the two ways render-ticket.ts draws it: the whole SVG in one piece, or in
 * tiles composed in pixels, with the QR modules drawn in directly.
 */
export interface TicketLayout extends TicketSvg {
  /** The card's horizontal extent: rows no tile covers are page | card | page. */
  card: { left: number; right: number };
  /**
   * Rows [0, height): band, poster strip, event, tier and the attendee label — the same for
   * every ticket of an event and tier. Its tiles are all shared.
   */
  head: { height: number; tiles: TicketTile[] };
  /** The rest, painted in order over the head and the card. */
  tiles: TicketTile[];
  /** The symbol and where it goes: `modulePx` pixels per module, black on the white card. */
  qr: { x: number; y: number; modulePx: number; symbol: QrSymbol };
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `Sat 5 Dec 2026 · 18:00 EAT` (Nairobi time, the only time zone the contract uses). */
export function formatNairobiDateTime(epochMs: number): string {
  const iso = toNairobiIso(epochMs); // 2026-12-05T18:00:00+03:00
  const [year, month, day] = [Number(iso.slice(0, 4)), Number(iso.slice(5, 7)), Number(iso.slice(8, 10))];
  const weekday = WEEKDAYS[new Date(Date.UTC(year, month - 1, day)).getUTCDay()];
  return `${weekday} ${day} ${MONTHS[month - 1]} ${year} · ${iso.slice(11, 16)} EAT`;
}

/** The short reference printed on tickets and in emails: the id's last 10 hex digits. */
export function ticketReference(ticketId: string): string {
  return ticketId.replace(/-/g, "").slice(-10).toUpperCase();
}

interface TextOptions {
  x: number;
  y: number;
  style: TextStyle;
  weight: 400 | 700;
  fill: string;
  anchor?: "start" | "middle" | "end";
}

function text(content: string, o: TextOptions): string {
  if (!content) return "";
  const spacing = o.style.letterSpacing ? ` letter-spacing="${o.style.letterSpacing}"` : "";
  const anchor = o.anchor && o.anchor !== "start" ? ` text-anchor="${o.anchor}"` : "";
  return `<text x="${o.x}" y="${o.y}" font-size="${o.style.size}" font-weight="${o.weight}" fill="${o.fill}"${spacing}${anchor}>${escapeXml(content)}</text>`;
}

export function composeTicketSvg(art: TicketArt, fonts: TicketFonts): TicketSvg {
  const { svg, width, height, posterAt } = layoutTicket(art, fonts);
  return { svg, width, height, posterAt };
}

export function layoutTicket(art: TicketArt, fonts: TicketFonts): TicketLayout {
  const title: TextStyle = { metrics: fonts.bold, size: 30 };
  const body: TextStyle = { metrics: fonts.regular, size: 19 };
  const label: TextStyle = { metrics: fonts.bold, size: 12, letterSpacing: 1.5 };
  const value: TextStyle = { metrics: fonts.bold, size: 20 };
  const brand: TextStyle = { metrics: fonts.bold, size: 24 };
  const small: TextStyle = { metrics: fonts.regular, size: 15 };
  const cardWidth = TICKET_WIDTH - 2 * INSET;
  const cardRight = TICKET_WIDTH - INSET;
  // Card and band, no clip path: clipping a group makes resvg render it into a layer and mask
  // it, which costs several times the whole rest of the render. The card is a rounded
  // rectangle, the band a path with the same top corners, and nothing else reaches the
  // card's edge.
  const card = (top: number, bottom: number) =>
    `<rect x="${INSET}" y="${top}" width="${cardWidth}" height="${bottom - top}" rx="${RADIUS}" fill="${CARD}"/>`;
  const cardTop = INSET;
  const band = `<path d="M${INSET} ${cardTop + RADIUS}a${RADIUS} ${RADIUS} 0 0 1 ${RADIUS} -${RADIUS}h${cardWidth - 2 * RADIUS}a${RADIUS} ${RADIUS} 0 0 1 ${RADIUS} ${RADIUS}v${BAND_HEIGHT - RADIUS}h-${cardWidth}z" fill="${BRAND}"/>`;

  const head: TicketTile[] = [];
  const tiles: TicketTile[] = [];
  /** Every element after the card and band, in drawing order: the whole ticket's SVG. */
  const drawn: string[] = [];
  const tile = (
    to: TicketTile[],
    box: { x: number; y: number; width: number; height: number },
    background: string,
    content: string[],
    perTicket = false,
  ) => {
    to.push({ ...box, background, perTicket, svg: `${document(box)}${content.join("")}</svg>` });
  };
  /** A tile across the card's inner width: text on white. */
  const cardRows = (to: TicketTile[], top: number, bottom: number, content: string[], perTicket = false) =>
    tile(to, { x: INSET, y: top, width: cardWidth, height: bottom - top }, CARD, content, perTicket);
  // A text tile ends this far under its last baseline: Roboto reaches 0.27 em below its
  // baseline (and 1.06 em above it, which the line spacing leaves inside the next tile).
  const below = (size: number) => Math.ceil(size * 0.28) + 1;

  const bandBottom = cardTop + BAND_HEIGHT;
  const brandText = [
    text("TicketSafi", { x: LEFT, y: cardTop + 46, style: brand, weight: 700, fill: CARD }),
    text("E-TICKET", {
      x: TICKET_WIDTH - LEFT,
      y: cardTop + 44,
      style: { metrics: fonts.bold, size: 14, letterSpacing: 2 },
      weight: 700,
      fill: BRAND_SOFT,
      anchor: "end",
    }),
  ];
  drawn.push(...brandText);
  tile(head, { x: 0, y: 0, width: TICKET_WIDTH, height: bandBottom }, PAGE, [
    card(cardTop, bandBottom + 2 * RADIUS),
    band,
    ...brandText,
  ]);
  let y = bandBottom;

  let posterAt: TicketSvg["posterAt"] = null;
  if (art.withPoster) {
    posterAt = { x: INSET, y };
    y += POSTER_HEIGHT;
  }

  let top = y;
  y += 24;
  const titleLines = wrapText(drawableText(art.eventTitle, fonts.bold) || "Event", title, CONTENT_WIDTH, 2);
  const titleText = titleLines.map((line) => {
    y += 36;
    return text(line, { x: LEFT, y, style: title, weight: 700, fill: INK });
  });
  drawn.push(...titleText);
  cardRows(head, top, y + below(title.size), titleText);
  top = y + below(title.size);

  /** One line of muted body text `gap` below the last, cut to the card's width; its own rows. */
  const mutedLine = (value: string, gap: number) => {
    y += gap;
    const line = text(ellipsize(value, body, CONTENT_WIDTH), {
      x: LEFT,
      y,
      style: body,
      weight: 400,
      fill: MUTED,
    });
    drawn.push(line);
    cardRows(head, top, y + below(body.size), [line]);
    top = y + below(body.size);
  };
  mutedLine(formatNairobiDateTime(art.startAt), 32);
  const location = drawableText(art.locationName, fonts.regular);
  if (location) mutedLine(location, 28);

  // Perforation with a notch on each edge of the card.
  y += 30;
  const notch = 14;
  const perforation = [
    `<line x1="${INSET + 24}" y1="${y}" x2="${TICKET_WIDTH - INSET - 24}" y2="${y}" stroke="${RULE}" stroke-width="2" stroke-dasharray="8 6"/>`,
    `<circle cx="${INSET}" cy="${y}" r="${notch}" fill="${PAGE}"/>`,
    `<circle cx="${TICKET_WIDTH - INSET}" cy="${y}" r="${notch}" fill="${PAGE}"/>`,
  ];
  drawn.push(...perforation);
  const perforationBottom = y + notch + 1;
  tile(head, { x: 0, y: top, width: TICKET_WIDTH, height: perforationBottom - top }, PAGE, [
    card(top - 2 * RADIUS, perforationBottom + 2 * RADIUS),
    ...perforation,
  ]);
  top = perforationBottom;

  const column = LEFT + CONTENT_WIDTH / 2 + 10;
  const leftWidth = column - LEFT - 20;
  const rightWidth = TICKET_WIDTH - LEFT - column;
  y += 36;
  const labels = [
    text("TIER", { x: LEFT, y, style: label, weight: 700, fill: LABEL }),
    text("REF", { x: column, y, style: label, weight: 700, fill: LABEL }),
  ];
  y += 26;
  const valuesY = y;
  const tier = ellipsize(drawableText(art.tierName, fonts.bold) || "—", value, leftWidth);
  const tierText = text(tier, { x: LEFT, y, style: value, weight: 700, fill: INK });
  const reference = text(ellipsize(ticketReference(art.ticketId), value, rightWidth), {
    x: column,
    y,
    style: value,
    weight: 700,
    fill: INK,
  });
  y += 34;
  const attendeeLabel = text("ATTENDEE", { x: LEFT, y, style: label, weight: 700, fill: LABEL });
  // The head ends under the attendee label, which is in capitals: nothing descends there.
  const headHeight = y + 4;
  cardRows(head, top, headHeight, [...labels, tierText, attendeeLabel]);
  // The reference goes over the head, right of the tier (ellipsized to its column).
  const refLeft = column - 8;
  tile(
    tiles,
    { x: refLeft, y: valuesY - 22, width: cardRight - refLeft, height: 22 + below(value.size) },
    CARD,
    [reference],
    true,
  );

  y += 26;
  const name = ellipsize(drawableText(art.attendeeName, fonts.bold) || "—", value, CONTENT_WIDTH);
  const nameText = text(name, { x: LEFT, y, style: value, weight: 700, fill: INK });
  drawn.push(...labels, tierText, reference, attendeeLabel, nameText);

  const symbol = qrSymbol(art.qrContent, "M");
  const modulePx = Math.max(3, Math.min(8, Math.floor(QR_TARGET_PX / symbol.modules)));
  const qrPx = symbol.modules * modulePx;
  const quietPx = QR_QUIET_MODULES * modulePx;
  const qrLeft = Math.round((TICKET_WIDTH - qrPx) / 2);
  // The quiet zone (4 modules of white) clears the descenders above and the caption below.
  const qrTop = y + quietPx + 6;
  cardRows(tiles, headHeight, qrTop, [nameText], true);

  y = qrTop + qrPx + quietPx + 12;
  const caption = text("Show this QR code at the gate", {
    x: TICKET_WIDTH / 2,
    y,
    style: small,
    weight: 400,
    fill: LABEL,
    anchor: "middle",
  });
  cardRows(tiles, y - 18, y + below(small.size), [caption]);
  const footer = [caption];
  if (art.position && art.position.count > 1) {
    const from = y + below(small.size);
    y += 24;
    const position = text(`Ticket ${art.position.index} of ${art.position.count}`, {
      x: TICKET_WIDTH / 2,
      y,
      style: small,
      weight: 400,
      fill: LABEL,
      anchor: "middle",
    });
    cardRows(tiles, from, y + below(small.size), [position]);
    footer.push(position);
  }
  const cardBottom = y + PAD;
  const height = cardBottom + INSET;
  tile(tiles, { x: 0, y: cardBottom - RADIUS, width: TICKET_WIDTH, height: RADIUS + INSET }, PAGE, [
    card(cardBottom - 3 * RADIUS, cardBottom),
  ]);

  return {
    // Built only when asked for: the tiled rendering does not need it.
    get svg() {
      const qrPath = `<path transform="translate(${qrLeft} ${qrTop}) scale(${modulePx})" d="${qrModulesPath(symbol)}" fill="${QR_DARK_COLOR}" shape-rendering="crispEdges"/>`;
      return (
        document({ x: 0, y: 0, width: TICKET_WIDTH, height }) +
        card(cardTop, cardBottom) +
        band +
        [...drawn, qrPath, ...footer].join("") +
        `</svg>`
      );
    },
    width: TICKET_WIDTH,
    height,
    posterAt,
    card: { left: INSET, right: cardRight },
    head: { height: headHeight, tiles: head },
    tiles,
    qr: { x: qrLeft, y: qrTop, modulePx, symbol },
  };
}

/** An SVG document showing the given rectangle of the ticket at 1:1. */
function document(box: { x: number; y: number; width: number; height: number }): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${box.width}" height="${box.height}" viewBox="${box.x} ${box.y} ${box.width} ${box.height}" font-family="${FONT_FAMILY}">`;
}
