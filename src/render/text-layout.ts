/**
 * Text for the ticket image: user-supplied strings (names, titles, venues) made safe to
 * draw with the one bundled font, and fitted into a width at their measured size.
 *
 * - Only what the font can draw survives: a grapheme cluster with any character the font
 *   has no glyph for (emoji, ZWJ sequences, scripts it lacks) is dropped whole, so nothing
 *   renders as an empty box and no emoji is cut in half.
 * - Long text wraps on spaces, breaks inside a word only when the word alone is too wide,
 *   and the last allowed line ends in "…". A 300-character name is one clean line.
 */
import type { FontMetrics } from "./font-metrics";

/** Longer input is cut before any work: a ticket never shows more than this. */
const MAX_INPUT_CHARS = 400;
const ELLIPSIS = "…";

export interface TextStyle {
  metrics: FontMetrics;
  /** Font size in px. */
  size: number;
  /** Extra px after every grapheme (SVG `letter-spacing`). */
  letterSpacing?: number;
}

let segmenter: Intl.Segmenter | null | undefined;

/**
 * Below U+0300 no character joins another (no combining marks, joiners, extenders or
 * prepended characters), so every character of such a text is a grapheme of its own, bar a
 * CR LF pair. Most ticket text is like that, and the segmenter is one of the dearer parts of
 * laying a ticket out.
 */
function isOneCharacterPerGrapheme(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x300) return false;
  return !text.includes("\r\n");
}

/** Grapheme clusters (what a reader sees as one character); code points where Intl lacks it. */
export function graphemes(text: string): string[] {
  if (isOneCharacterPerGrapheme(text)) return Array.from(text);
  if (segmenter === undefined) {
    segmenter =
      typeof Intl.Segmenter === "function" ? new Intl.Segmenter("en", { granularity: "grapheme" }) : null;
  }
  if (!segmenter) return Array.from(text);
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

/** The part of `raw` the font can draw, on one line, whitespace collapsed. */
export function drawableText(raw: string, metrics: FontMetrics): string {
  const normalized = raw.slice(0, MAX_INPUT_CHARS).normalize("NFC").replace(/\s+/gu, " ");
  let out = "";
  for (const cluster of graphemes(normalized)) {
    let drawable = true;
    for (const char of cluster) {
      const codePoint = char.codePointAt(0) ?? 0;
      if (codePoint < 0x20 || metrics.advance(codePoint) === null) {
        drawable = false;
        break;
      }
    }
    if (drawable) out += cluster;
  }
  // Invisible format and control characters (zero-width spaces, bidi overrides that could
  // reorder what a gate steward reads) carry nothing a ticket should show.
  return out
    .replace(/[\p{Cf}\p{Cc}]/gu, "")
    .replace(/ {2,}/g, " ")
    .trim();
}

export function textWidth(text: string, style: TextStyle): number {
  const scale = style.size / style.metrics.unitsPerEm;
  let units = 0;
  let count = 0;
  for (const char of text) {
    units += style.metrics.advance(char.codePointAt(0) ?? 0) ?? 0;
    count++;
  }
  return units * scale + (style.letterSpacing ?? 0) * count;
}

/** `text` if it fits in `maxWidth`, else its longest prefix (whole graphemes) + "…". */
export function ellipsize(text: string, style: TextStyle, maxWidth: number): string {
  if (textWidth(text, style) <= maxWidth) return text;
  const budget = maxWidth - textWidth(ELLIPSIS, style);
  let used = 0;
  let kept = "";
  for (const cluster of graphemes(text)) {
    used += textWidth(cluster, style);
    if (used > budget) break;
    kept += cluster;
  }
  return `${kept.trimEnd()}${ELLIPSIS}`;
}

/** The longest prefix of `word` (whole graphemes, at least one) that fits, and the rest. */
function splitAtWidth(word: string, style: TextStyle, maxWidth: number): [string, string] {
  const clusters = graphemes(word);
  let used = 0;
  let count = 0;
  for (const cluster of clusters) {
    used += textWidth(cluster, style);
    if (used > maxWidth && count > 0) break;
    count++;
  }
  return [clusters.slice(0, count).join(""), clusters.slice(count).join("")];
}

/** Word-wrap into at most `maxLines` lines of `maxWidth`; the last line ellipsized if needed. */
export function wrapText(text: string, style: TextStyle, maxWidth: number, maxLines: number): string[] {
  const words = text.split(" ").filter(Boolean);
  const lines: string[] = [];
  let current = "";
  let i = 0;
  while (i < words.length) {
    const word = words[i] ?? "";
    const candidate = current ? `${current} ${word}` : word;
    if (textWidth(candidate, style) <= maxWidth) {
      current = candidate;
      i++;
      continue;
    }
    if (lines.length === maxLines - 1) {
      // No line left after this one: everything remaining goes here, cut with "…".
      lines.push(ellipsize([current, ...words.slice(i)].filter(Boolean).join(" "), style, maxWidth));
      return lines;
    }
    if (current) {
      lines.push(current);
      current = "";
      continue;
    }
    // One word wider than a whole line: break it.
    const [head, tail] = splitAtWidth(word, style, maxWidth);
    lines.push(head);
    words[i] = tail;
    if (!tail) i++;
  }
  if (current) lines.push(current);
  return lines;
}

/** Escape for SVG text content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}
