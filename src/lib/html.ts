/** Escape text for HTML email bodies. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Characters that join the parts of a URL, a domain or an address (with the IDN dots). */
const LINK_JOINERS = /[.:/@\\\u3002\uFF0E\uFF61]/g;
/** Control characters (line breaks, tabs) become spaces. */
const CONTROL = /\p{Cc}/gu;
/** Format characters a sender could hide or reorder text with (zero-width, bidi) are dropped. */
const INVISIBLE = /\p{Cf}/gu;

/**
 * User-chosen text (a buyer's name) for an email, as plain text no mail client turns into a
 * link: a ZERO WIDTH SPACE after every dot, colon, slash and @ splits `www.evil.example` or
 * `https://…` into runs no auto-linker recognises, while the reader still sees the same
 * characters. Control and invisible characters the sender put in are dropped first (so they
 * cannot undo or disguise this), whitespace is collapsed. HTML escaping is still the
 * template's job: this makes text unlinkable, not safe markup.
 */
export function unlinkable(value: string): string {
  return value
    .replace(CONTROL, " ")
    .replace(INVISIBLE, "")
    .replace(/\s+/g, " ")
    .trim()
    .replace(LINK_JOINERS, (joiner) => `${joiner}\u200B`);
}
