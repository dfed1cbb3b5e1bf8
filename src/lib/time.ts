/**
 * Time at the edge of the API: stored as epoch ms (UTC), rendered in Africa/Nairobi
 * (UTC+3 all year, no daylight saving) as `2026-12-05T18:00:00+03:00`.
 */
const NAIROBI_OFFSET_MS = 3 * 60 * 60 * 1000;

export function toNairobiIso(epochMs: number): string;
export function toNairobiIso(epochMs: number | null | undefined): string | null;
export function toNairobiIso(epochMs: number | null | undefined): string | null {
  if (epochMs === null || epochMs === undefined) return null;
  const shifted = new Date(Math.floor(epochMs / 1000) * 1000 + NAIROBI_OFFSET_MS).toISOString();
  return `${shifted.slice(0, 19)}+03:00`;
}

/** `YYYYMMDDHHmmss` in Nairobi time (Daraja's Timestamp). */
export function nairobiCompactTimestamp(epochMs: number): string {
  return new Date(epochMs + NAIROBI_OFFSET_MS).toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** Start (inclusive) and end (exclusive) of a Nairobi calendar day `YYYY-MM-DD`, in epoch ms. */
export function nairobiDayBounds(day: string): { start: number; end: number } | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return null;
  const [year, month, date] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const utcMidnight = Date.UTC(year, month - 1, date);
  const check = new Date(utcMidnight);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== date)
    return null;
  const start = utcMidnight - NAIROBI_OFFSET_MS;
  return { start, end: start + 24 * 60 * 60 * 1000 };
}

/** Parse an ISO 8601 datetime with an offset (or Z); a bare date-time is read as Nairobi time. */
export function parseDateTime(value: string): number | null {
  const trimmed = value.trim();
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(trimmed))
    return null;
  const hasOffset = /(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed);
  const normalised = trimmed.replace(" ", "T") + (hasOffset ? "" : "+03:00");
  const ms = Date.parse(normalised);
  return Number.isFinite(ms) ? ms : null;
}
