/**
 * The attendee list's `sync_token` (contract §6): opaque to clients, and enough for the
 * server to answer `?since=<token>` with every ticket that changed, never missing one and
 * never repeating one that did not change.
 *
 * A token is a position on the tickets' change cursor (`tickets.change_seq`): a number the
 * database gives every ticket on each write the guest list shows, strictly increasing in
 * commit order. "Changed since" is `change_seq > position`; a ticket written in the same
 * millisecond as the token, before it, is not sent again. Keyset paging needs nothing
 * else: a page resumes after the last number it sent, and a ticket that changes while a
 * client pages takes a higher number and comes again at the end.
 *
 * Wire form: base64url of `v2.<position>`. `0` is accepted as "from the beginning" (a full
 * download as a stream of changes). A well-formed token of the earlier timestamp scheme
 * (`v1.<watermark>.<rowid>[.<updated_at>.<id>]`, issued before the cursor existed) is
 * accepted as "from the beginning" too: a device that synced before an upgrade gets
 * everything once (rows are upserts on its side), never a gap and never an error.
 */
import { base64url } from "jose";

export interface SyncToken {
  /** Tickets with `change_seq` above this have changed since the token was issued. */
  position: number;
}

export const FROM_THE_BEGINNING: SyncToken = { position: 0 };

const MAX_EPOCH_MS = 8_640_000_000_000_000;
const ID = /^[0-9a-f-]{36}$/;
const INTEGER = /^\d{1,16}$/;

export function encodeSyncToken(token: SyncToken): string {
  return base64url.encode(`v2.${token.position}`);
}

/** The token, or null for anything this server did not produce. */
export function decodeSyncToken(raw: string): SyncToken | null {
  const value = raw.trim();
  if (value === "0") return FROM_THE_BEGINNING;
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(value)) return null;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64url.decode(value));
  } catch {
    return null;
  }
  const parts = text.split(".");
  if (parts[0] === "v2") {
    const [, position] = parts;
    if (parts.length !== 2 || !position || !INTEGER.test(position)) return null;
    const n = Number(position);
    return Number.isSafeInteger(n) ? { position: n } : null;
  }
  if (parts[0] === "v1" && isLegacyToken(parts)) return FROM_THE_BEGINNING;
  return null;
}

/** A well-formed token of the timestamp scheme (`v1.<w>.<r>` or `v1.<w>.<r>.<updated_at>.<id>`). */
function isLegacyToken(parts: string[]): boolean {
  if (parts.length !== 3 && parts.length !== 5) return false;
  const [, w, r, ts, id] = parts;
  if (!w || !r || !INTEGER.test(w) || !INTEGER.test(r)) return false;
  if (Number(w) > MAX_EPOCH_MS || !Number.isSafeInteger(Number(r))) return false;
  if (parts.length === 3) return true;
  return !!ts && !!id && INTEGER.test(ts) && Number(ts) <= MAX_EPOCH_MS && ID.test(id);
}
