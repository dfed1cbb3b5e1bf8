/**
 * The guest list of contract §6: one entry per ticket, contact data masked. This list goes
 * to gate devices that may be lost at the door, so it carries what recognises a guest
 * (name, masked contacts, the masked ticket reference) and `ticket_hash` to match a scanned
 * code offline, and never the code itself, the full ticket id, an email or a phone number.
 */

import { z } from "@hono/zod-openapi";
import { REVOCATION_REASONS, TICKET_STATUSES } from "../../db/schema";
import { maskEmail, maskPhoneNumber, maskTicketRef } from "../../lib/masking";
import { toNairobiIso } from "../../lib/time";
import type { AttendeeRow, RevokedToken } from "../../services/attendees";

export const AttendeeSchema = z
  .object({
    id: z.string().openapi({ description: "Masked reference: `••••` + the ticket id's last 10 hex digits" }),
    ticket_hash: z.string().openapi({ description: "Lowercase hex SHA-256 of the ticket's qr_code_hash" }),
    attendee_name: z.string(),
    attendee_email: z.string().openapi({ description: "Masked: `j***@gmail.com`" }),
    phone: z.string().openapi({ description: "Masked: `2547****678` (from the order)" }),
    tier_id: z.string(),
    tier_name: z.string(),
    tier_price: z.number().openapi({
      description: "Computed money: whole shillings as a JSON number (contract §1); the CSV keeps `1500.00`",
    }),
    status: z.enum(TICKET_STATUSES),
    purchase_date: z.string(),
    checked_in_at: z.string().nullable(),
  })
  .openapi("Attendee");

export const AttendeeSummarySchema = z
  .object({
    tickets: z
      .number()
      .int()
      .openapi({ description: "Tickets that admit someone (cancelled ones excluded)" }),
    checked_in: z.number().int(),
    by_tier: z.array(
      z.object({
        tier_id: z.string(),
        name: z.string(),
        tickets: z.number().int(),
        checked_in: z.number().int(),
      }),
    ),
  })
  .openapi("AttendeeSummary");

export const PublicJwkSchema = z
  .object({
    kty: z.string(),
    crv: z.string(),
    x: z.string(),
    kid: z.string(),
    alg: z.string(),
    use: z.string(),
  })
  .openapi("TicketPublicJwk");

export const RevokedTokenSchema = z
  .object({
    ticket_hash: z.string().openapi({ description: "Lowercase hex SHA-256 of the revoked qr_code_hash" }),
    revoked_at: z.string(),
    reason: z.enum(REVOCATION_REASONS),
  })
  .openapi("RevokedTicketToken");

export const AttendeePageSchema = z
  .object({
    count: z.number().int(),
    next: z.string().nullable(),
    previous: z.string().nullable(),
    results: z.array(AttendeeSchema),
    summary: AttendeeSummarySchema,
    public_keys: z.array(PublicJwkSchema),
    sync_token: z.string(),
    revoked: z
      .array(RevokedTokenSchema)
      .optional()
      .openapi({
        description:
          "First page only: tokens scanners must refuse offline (contract v3 §14.4). With `since`, those revoked " +
          "after that token; without, every revocation of the event. Later pages omit it.",
      }),
  })
  .openapi("AttendeePage");

export function toRevokedToken(row: RevokedToken): z.infer<typeof RevokedTokenSchema> {
  return { ticket_hash: row.ticketHash, revoked_at: toNairobiIso(row.revokedAt), reason: row.reason };
}

export function toAttendee(row: AttendeeRow): z.infer<typeof AttendeeSchema> {
  return {
    id: maskTicketRef(row.id),
    ticket_hash: row.ticketHash,
    attendee_name: row.attendeeName,
    attendee_email: maskEmail(row.attendeeEmail),
    phone: maskPhoneNumber(row.phone),
    tier_id: row.tierId,
    tier_name: row.tierName,
    tier_price: row.tierPrice,
    status: row.status,
    purchase_date: toNairobiIso(row.createdAt),
    checked_in_at: toNairobiIso(row.checkedInAt),
  };
}
