/**
 * Masking for lists that gate staff and scanner devices hold (contract §6): enough to
 * recognise a guest at the door, never the contact data itself.
 */

/** `j***@gmail.com`: the first character, `***`, then the domain. */
export function maskEmail(email: string | null | undefined): string {
  const value = (email ?? "").trim();
  if (!value) return "";
  const at = value.lastIndexOf("@");
  const first = Array.from(value)[0] ?? "";
  if (at <= 0) return `${first}***`;
  return `${first}***${value.slice(at)}`;
}

/** `••••` + the last 10 hex digits of the ticket id, upper case: a reference, not the id. */
export function maskTicketRef(ticketId: string): string {
  const hex = ticketId.replace(/[^0-9a-f]/gi, "");
  return `••••${hex.slice(-10).toUpperCase()}`;
}

/**
 * `2547****678` as contract §6 shows it: the first four and the last three digits around a
 * fixed `****`, so the mask does not give away the number's length either.
 */
export function maskPhoneNumber(phone: string | null | undefined): string {
  const digits = (phone ?? "").replace(/\D/g, "");
  if (!digits) return "";
  if (digits.length <= 7) return "****";
  return `${digits.slice(0, 4)}****${digits.slice(-3)}`;
}
