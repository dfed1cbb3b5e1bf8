/**
 * The attendee list's `sync_token` (contract §6): opaque to clients, and enough for the
 * server to answer `?since=<token>` with every ticket that changed, never missing one.
 *
 * A token names a *pass* over the tickets ordered by (updated_at, id):
 *  - `w`, the watermark: the next pass starts at `updated_at >= w`. It is the time the pass
 *    began minus an overlap, because a writer stamps `updated_at` a moment before it commits:
 *    a change stamped just before our read may commit just after it.
 *  - `r`, the highest ticket rowid when the pass began. Rowids grow in commit order, so a
 *    ticket inserted later with an old stamp (issued by a slow settlement run) is still
 *    found: the next pass also starts no later than the oldest `created_at` above `r`.
 *  - `c`, only inside a pass: the (updated_at, id) of the last ticket sent, where the next
 *    page resumes (keyset paging: a ticket changed meanwhile moves to the end, none shifts).
 *
 * Wire form: base64url of `v1.<w>.<r>` or `v1.<w>.<r>.<updated_at>.<id>`. `0` is accepted
 * as "from the beginning" (a full download as a stream of changes).
 */
import { base64url } from "jose";

export interface SyncPass {
  watermark: number;
  rowid: number;
}

export interface SyncToken extends SyncPass {
  cursor: { updatedAt: number; id: string } | null;
}

const MAX_EPOCH_MS = 8_640_000_000_000_000;
const ID = /^[0-9a-f-]{36}$/;
const INTEGER = /^\d{1,16}$/;

export const FROM_THE_BEGINNING: SyncToken = { watermark: 0, rowid: 0, cursor: null };

export function encodeSyncToken(token: SyncToken): string {
  const parts = ["v1", String(token.watermark), String(token.rowid)];
  if (token.cursor) parts.push(String(token.cursor.updatedAt), token.cursor.id);
  return base64url.encode(parts.join("."));
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
  if (parts[0] !== "v1" || (parts.length !== 3 && parts.length !== 5)) return null;
  const [, w, r, ts, id] = parts;
  if (!w || !r || !INTEGER.test(w) || !INTEGER.test(r)) return null;
  const watermark = Number(w);
  const rowid = Number(r);
  if (watermark > MAX_EPOCH_MS || !Number.isSafeInteger(rowid)) return null;
  if (parts.length === 3) return { watermark, rowid, cursor: null };
  if (!ts || !id || !INTEGER.test(ts) || !ID.test(id)) return null;
  const updatedAt = Number(ts);
  if (updatedAt > MAX_EPOCH_MS) return null;
  return { watermark, rowid, cursor: { updatedAt, id } };
}
