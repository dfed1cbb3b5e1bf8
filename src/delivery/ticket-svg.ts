/**
 * The ticket as an SVG document (pure: no I/O, no wasm), which render-ticket.ts rasterises.
 *
 * Portrait, 600 px wide: brand band, the event poster when there is one, title, date and
 * time in Nairobi, venue, a perforation, tier / reference / attendee, and the QR code with
 * its quiet zone. Every user string goes through text-layout (drawable characters only,
 * measured and truncated) and is XML-escaped. A handful of flat colours keeps the palette
 * PNG small; the QR code is drawn at a whole number of pixels per module, black on white.
 * The poster is not in the SVG: its strip is left for the renderer to fill with pixels.
 */
import { toNairobiIso } from "../lib/time";
import type { FontMetrics } from "./font-metrics";
import { qrSymbol } from "./qr";
import { drawableText, ellipsize, escapeXml, type TextStyle, wrapText } from "./text-layout";

export const TICKET_WIDTH = 600;
export const FONT_FAMILY = "Roboto";

/** Behind the card; the renderer fills the canvas with it (see render-ticket.ts). */
export const PAGE_COLOR = "#ede9fe";
const PAGE = PAGE_COLOR;
const CARD = "#ffffff";
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
  const title: TextStyle = { metrics: fonts.bold, size: 30 };
  const body: TextStyle = { metrics: fonts.regular, size: 19 };
  const label: TextStyle = { metrics: fonts.bold, size: 12, letterSpacing: 1.5 };
  const value: TextStyle = { metrics: fonts.bold, size: 20 };
  const brand: TextStyle = { metrics: fonts.bold, size: 24 };
  const small: TextStyle = { metrics: fonts.regular, size: 15 };
  const parts: string[] = [];

  const cardTop = INSET;
  parts.push(text("TicketSafi", { x: LEFT, y: cardTop + 46, style: brand, weight: 700, fill: CARD }));
  parts.push(
    text("E-TICKET", {
      x: TICKET_WIDTH - LEFT,
      y: cardTop + 44,
      style: { metrics: fonts.bold, size: 14, letterSpacing: 2 },
      weight: 700,
      fill: BRAND_SOFT,
      anchor: "end",
    }),
  );
  let y = cardTop + BAND_HEIGHT;

  let posterAt: TicketSvg["posterAt"] = null;
  if (art.withPoster) {
    posterAt = { x: INSET, y };
    y += POSTER_HEIGHT;
  }

  y += 24;
  const titleLines = wrapText(drawableText(art.eventTitle, fonts.bold) || "Event", title, CONTENT_WIDTH, 2);
  for (const line of titleLines) {
    y += 36;
    parts.push(text(line, { x: LEFT, y, style: title, weight: 700, fill: INK }));
  }
  y += 32;
  parts.push(
    text(ellipsize(formatNairobiDateTime(art.startAt), body, CONTENT_WIDTH), {
      x: LEFT,
      y,
      style: body,
      weight: 400,
      fill: MUTED,
    }),
  );
  const location = drawableText(art.locationName, fonts.regular);
  if (location) {
    y += 28;
    parts.push(
      text(ellipsize(location, body, CONTENT_WIDTH), { x: LEFT, y, style: body, weight: 400, fill: MUTED }),
    );
  }

  // Perforation with a notch on each edge of the card.
  y += 30;
  parts.push(
    `<line x1="${INSET + 24}" y1="${y}" x2="${TICKET_WIDTH - INSET - 24}" y2="${y}" stroke="${RULE}" stroke-width="2" stroke-dasharray="8 6"/>`,
    `<circle cx="${INSET}" cy="${y}" r="14" fill="${PAGE}"/>`,
    `<circle cx="${TICKET_WIDTH - INSET}" cy="${y}" r="14" fill="${PAGE}"/>`,
  );

  const column = LEFT + CONTENT_WIDTH / 2 + 10;
  const leftWidth = column - LEFT - 20;
  const rightWidth = TICKET_WIDTH - LEFT - column;
  y += 36;
  parts.push(text("TIER", { x: LEFT, y, style: label, weight: 700, fill: LABEL }));
  parts.push(text("REF", { x: column, y, style: label, weight: 700, fill: LABEL }));
  y += 26;
  const tier = ellipsize(drawableText(art.tierName, fonts.bold) || "—", value, leftWidth);
  parts.push(text(tier, { x: LEFT, y, style: value, weight: 700, fill: INK }));
  parts.push(
    text(ellipsize(ticketReference(art.ticketId), value, rightWidth), {
      x: column,
      y,
      style: value,
      weight: 700,
      fill: INK,
    }),
  );
  y += 34;
  parts.push(text("ATTENDEE", { x: LEFT, y, style: label, weight: 700, fill: LABEL }));
  y += 26;
  const attendee = ellipsize(drawableText(art.attendeeName, fonts.bold) || "—", value, CONTENT_WIDTH);
  parts.push(text(attendee, { x: LEFT, y, style: value, weight: 700, fill: INK }));

  const qr = qrSymbol(art.qrContent, "M");
  const modulePx = Math.max(3, Math.min(8, Math.floor(QR_TARGET_PX / qr.modules)));
  const qrPx = qr.modules * modulePx;
  const quietPx = QR_QUIET_MODULES * modulePx;
  const qrLeft = Math.round((TICKET_WIDTH - qrPx) / 2);
  // The quiet zone (4 modules of white) clears the descenders above and the caption below.
  const qrTop = y + quietPx + 6;
  parts.push(
    `<path transform="translate(${qrLeft} ${qrTop}) scale(${modulePx})" d="${qr.path}" fill="#000000" shape-rendering="crispEdges"/>`,
  );
  y = qrTop + qrPx + quietPx + 12;
  parts.push(
    text("Show this QR code at the gate", {
      x: TICKET_WIDTH / 2,
      y,
      style: small,
      weight: 400,
      fill: LABEL,
      anchor: "middle",
    }),
  );
  if (art.position && art.position.count > 1) {
    y += 24;
    parts.push(
      text(`Ticket ${art.position.index} of ${art.position.count}`, {
        x: TICKET_WIDTH / 2,
        y,
        style: small,
        weight: 400,
        fill: LABEL,
        anchor: "middle",
      }),
    );
  }
  const cardBottom = y + PAD;
  const height = cardBottom + INSET;

  // No clip path: clipping a group makes resvg render it into a layer and mask it, which
  // costs several times the whole rest of the render. The card is a rounded rectangle, the
  // band a path with the same top corners, and nothing else reaches the card's edge.
  const cardWidth = TICKET_WIDTH - 2 * INSET;
  const band = `M${INSET} ${cardTop + RADIUS}a${RADIUS} ${RADIUS} 0 0 1 ${RADIUS} -${RADIUS}h${cardWidth - 2 * RADIUS}a${RADIUS} ${RADIUS} 0 0 1 ${RADIUS} ${RADIUS}v${BAND_HEIGHT - RADIUS}h-${cardWidth}z`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${TICKET_WIDTH}" height="${height}" viewBox="0 0 ${TICKET_WIDTH} ${height}" font-family="${FONT_FAMILY}">` +
    `<rect x="${INSET}" y="${cardTop}" width="${cardWidth}" height="${cardBottom - cardTop}" rx="${RADIUS}" fill="${CARD}"/>` +
    `<path d="${band}" fill="${BRAND}"/>` +
    parts.join("") +
    `</svg>`;
  return { svg, width: TICKET_WIDTH, height, posterAt };
}
