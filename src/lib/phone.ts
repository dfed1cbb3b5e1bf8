/**
 * Kenyan mobile numbers in any usual form (`0712 345 678`, `+254712345678`, `254712345678`,
 * `712345678`, `0110…`) → `2547XXXXXXXX` / `2541XXXXXXXX`, the form Daraja wants.
 */
export function normalizeKenyanPhone(input: string): string | null {
  const compact = input.replace(/[\s\-().]/g, "");
  const match = /^(?:\+?254|0)?([17]\d{8})$/.exec(compact);
  return match ? `254${match[1]}` : null;
}
