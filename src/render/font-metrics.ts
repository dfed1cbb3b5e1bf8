/**
 * Just enough of a TrueType reader to lay text out before resvg draws it: which characters
 * the bundled font has a glyph for (`cmap`) and how wide each one is (`hmtx`). The ticket
 * composer uses it to drop what would render as nothing (emoji, scripts the font lacks) and
 * to truncate long names and titles at their real width instead of guessing from a count.
 * Kerning is ignored, which only ever overestimates a width by a hair.
 */

export interface FontMetrics {
  /** Advance width in font units, or null when the font has no glyph for the code point. */
  advance(codePoint: number): number | null;
  unitsPerEm: number;
}

type GlyphLookup = (codePoint: number) => number;

function tableDirectory(view: DataView): Map<string, number> {
  const tables = new Map<string, number>();
  const count = view.getUint16(4);
  for (let i = 0; i < count; i++) {
    const record = 12 + i * 16;
    const tag = String.fromCharCode(
      view.getUint8(record),
      view.getUint8(record + 1),
      view.getUint8(record + 2),
      view.getUint8(record + 3),
    );
    tables.set(tag, view.getUint32(record + 8));
  }
  return tables;
}

/** cmap format 12 (full Unicode) when present, else format 4 (the Basic Multilingual Plane). */
function glyphLookup(view: DataView, cmap: number): GlyphLookup {
  const subtables = view.getUint16(cmap + 2);
  let format4: number | undefined;
  let format12: number | undefined;
  for (let i = 0; i < subtables; i++) {
    const record = cmap + 4 + i * 8;
    const platform = view.getUint16(record);
    const encoding = view.getUint16(record + 2);
    const offset = cmap + view.getUint32(record + 4);
    const format = view.getUint16(offset);
    const unicode = platform === 0 || (platform === 3 && (encoding === 1 || encoding === 10));
    if (!unicode) continue;
    if (format === 12) format12 ??= offset;
    if (format === 4) format4 ??= offset;
  }

  if (format12 !== undefined) {
    const table = format12;
    const groups = view.getUint32(table + 12);
    return (codePoint) => {
      let low = 0;
      let high = groups - 1;
      while (low <= high) {
        const mid = (low + high) >> 1;
        const group = table + 16 + mid * 12;
        const start = view.getUint32(group);
        const end = view.getUint32(group + 4);
        if (codePoint < start) high = mid - 1;
        else if (codePoint > end) low = mid + 1;
        else return view.getUint32(group + 8) + (codePoint - start);
      }
      return 0;
    };
  }

  if (format4 !== undefined) {
    const table = format4;
    const segments = view.getUint16(table + 6) / 2;
    const ends = table + 14;
    const starts = ends + segments * 2 + 2;
    const deltas = starts + segments * 2;
    const rangeOffsets = deltas + segments * 2;
    return (codePoint) => {
      if (codePoint > 0xffff) return 0;
      for (let i = 0; i < segments; i++) {
        if (codePoint > view.getUint16(ends + i * 2)) continue;
        const start = view.getUint16(starts + i * 2);
        if (codePoint < start) return 0;
        const delta = view.getInt16(deltas + i * 2);
        const rangeOffsetAt = rangeOffsets + i * 2;
        const rangeOffset = view.getUint16(rangeOffsetAt);
        if (rangeOffset === 0) return (codePoint + delta) & 0xffff;
        const glyph = view.getUint16(rangeOffsetAt + rangeOffset + (codePoint - start) * 2);
        return glyph === 0 ? 0 : (glyph + delta) & 0xffff;
      }
      return 0;
    };
  }
  return () => 0;
}

export function readFontMetrics(font: ArrayBuffer | Uint8Array): FontMetrics {
  const bytes = font instanceof Uint8Array ? font : new Uint8Array(font);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tables = tableDirectory(view);
  const head = tables.get("head");
  const hhea = tables.get("hhea");
  const hmtx = tables.get("hmtx");
  const cmap = tables.get("cmap");
  if (head === undefined || hhea === undefined || hmtx === undefined || cmap === undefined) {
    throw new Error("not a TrueType/OpenType font with head, hhea, hmtx and cmap tables");
  }
  const unitsPerEm = view.getUint16(head + 18);
  const longMetrics = view.getUint16(hhea + 34);
  const lookup = glyphLookup(view, cmap);
  const cache = new Map<number, number | null>();

  return {
    unitsPerEm,
    advance(codePoint) {
      const cached = cache.get(codePoint);
      if (cached !== undefined) return cached;
      const glyph = lookup(codePoint);
      let width: number | null = null;
      if (glyph !== 0) {
        const index = Math.min(glyph, longMetrics - 1);
        width = view.getUint16(hmtx + index * 4);
      }
      cache.set(codePoint, width);
      return width;
    },
  };
}
