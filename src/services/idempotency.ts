/**
 * `Idempotency-Key` (contract §4): the same key and body returns the first answer and
 * charges once; the same key with another body is a 422. Keys are scoped by caller and kept
 * for 24 hours. A row without a response means the first request is still running.
 *
 * What a row keeps is the use case's result as domain data (JSON in `response_body`), never
 * an HTTP answer: the HTTP layer shapes a replay exactly as it shaped the first answer.
 * (`response_status` is only set on rows written before that; see checkout/result.ts.)
 */
import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { idempotencyKeys } from "../db/schema";
import { sha256Hex } from "../lib/crypto";
import { DomainError } from "../lib/errors";

const TTL_MS = 24 * 60 * 60 * 1000;

type IdempotencyClaim =
  | { kind: "new" }
  /** The first request's result, as it was stored (the caller checks its shape). */
  | { kind: "replay"; result: unknown }
  | { kind: "conflict" }
  | { kind: "in_progress" };

export interface IdempotencyScope {
  scope: string;
  key: string;
  requestHash: string;
}

/** The `Idempotency-Key` header as sent: absent → none; blank or over 255 characters → 400. */
export function checkedIdempotencyKey(raw: string | undefined): string | undefined {
  const key = raw?.trim();
  if (key !== undefined && (key.length === 0 || key.length > 255)) {
    throw DomainError.field("Idempotency-Key", "Must be between 1 and 255 characters.");
  }
  return key || undefined;
}

/** A stable fingerprint of what was asked (canonical JSON of the validated input). */
export async function requestFingerprint(input: Record<string, unknown>): Promise<string> {
  const canonical = JSON.stringify(
    Object.keys(input)
      .sort()
      .map((k) => [k, input[k] ?? null]),
  );
  return sha256Hex(canonical);
}

export async function claimIdempotencyKey(
  db: Database,
  id: IdempotencyScope,
  now = Date.now(),
): Promise<IdempotencyClaim> {
  const inserted = await db
    .insert(idempotencyKeys)
    .values({
      scope: id.scope,
      key: id.key,
      requestHash: id.requestHash,
      expiresAt: now + TTL_MS,
      createdAt: now,
    })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key });
  if (inserted.length > 0) return { kind: "new" };
  const existing = await db.query.idempotencyKeys.findFirst({
    where: and(eq(idempotencyKeys.scope, id.scope), eq(idempotencyKeys.key, id.key)),
  });
  if (!existing) return { kind: "new" };
  if (existing.requestHash !== id.requestHash) return { kind: "conflict" };
  if (existing.responseBody === null) return { kind: "in_progress" };
  return { kind: "replay", result: JSON.parse(existing.responseBody) };
}

/** Record the first request's result: from now on the key replays it. */
export function completeIdempotencyKey(db: Database, id: IdempotencyScope, result: unknown) {
  return db
    .update(idempotencyKeys)
    .set({ responseBody: JSON.stringify(result) })
    .where(and(eq(idempotencyKeys.scope, id.scope), eq(idempotencyKeys.key, id.key)));
}

/** Forget a key whose request failed in a way a retry may fix (e.g. Daraja was down). */
export function releaseIdempotencyKey(db: Database, id: IdempotencyScope) {
  return db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.scope, id.scope), eq(idempotencyKeys.key, id.key)));
}
