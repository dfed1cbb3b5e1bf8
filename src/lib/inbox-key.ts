/**
 * Who an email address is, for counting (contract §15.2; the recipient limit of issue #11):
 * the inbox it delivers to, as far as one can tell without asking. One function, so the
 * per-recipient booking limit, the per-buyer hold rule and the buyer limits all agree.
 */
const GMAIL_DOMAINS = new Set(["gmail.com", "googlemail.com"]);

/**
 * Lower case, no `+tag` (most providers deliver `me+1@` to `me@`), and for Gmail no dots in
 * the local part and one domain — so `Me.Fan+x@googlemail.com` counts as `mefan@gmail.com`.
 */
export function inboxKey(email: string): string {
  const address = email.trim().toLowerCase();
  const at = address.lastIndexOf("@");
  if (at < 1) return address;
  let local = address.slice(0, at).split("+")[0] ?? "";
  let domain = address.slice(at + 1);
  if (GMAIL_DOMAINS.has(domain)) {
    local = local.replaceAll(".", "");
    domain = "gmail.com";
  }
  return `${local}@${domain}`;
}
