/** The ticket object of contract §5. */

import { z } from "@hono/zod-openapi";
import { TICKET_STATUSES } from "../../db/schema";
import { toNairobiIso } from "../../lib/time";
import { mediaUrl } from "../../services/images";
import type { TicketViewRow } from "../../services/wallet";

export const TicketSchema = z
  .object({
    id: z.string(),
    qr_code_hash: z.string().openapi({ description: "Compact JWS (EdDSA) the QR code holds" }),
    status: z.enum(TICKET_STATUSES),
    purchase_date: z.string(),
    attendee_name: z.string(),
    attendee_email: z.string(),
    event_id: z.string(),
    event_title: z.string(),
    event_image: z.string(),
    event_location: z.string(),
    event_start_date: z.string(),
    event_end_date: z.string(),
    organizer_name: z.string(),
    tier_name: z.string(),
    tier_price: z
      .number()
      .openapi({ description: "Computed money: whole shillings as a JSON number (contract §1)" }),
    price_paid: z
      .number()
      .openapi({ description: "What was paid for this seat after discount (contract §5, §12.5)" }),
    checked_in_at: z.string().nullable(),
    transferable: z.boolean().openapi({
      description: "The viewer owns the ticket and may transfer it now (contract v3 §14.5)",
    }),
    transfers_left: z.number().int().openapi({ description: "MAX_TRANSFERS_PER_TICKET − transfers so far" }),
    png_url: z.string().openapi({
      description: "The rendered ticket (image/png); rendered on first request if delivery has not run yet",
    }),
  })
  .openapi("Ticket");

export function toTicketResponse(publicBaseUrl: string, row: TicketViewRow): z.infer<typeof TicketSchema> {
  return {
    id: row.id,
    qr_code_hash: row.qrCodeHash,
    status: row.status,
    purchase_date: toNairobiIso(row.createdAt),
    attendee_name: row.attendeeName,
    attendee_email: row.attendeeEmail,
    event_id: row.eventId,
    event_title: row.eventTitle,
    // The web client renders this straight into <img src>: always a string.
    event_image: mediaUrl(publicBaseUrl, row.posterKey) ?? "",
    event_location: row.locationName,
    event_start_date: toNairobiIso(row.startAt),
    event_end_date: toNairobiIso(row.endAt),
    organizer_name: row.organizerName,
    tier_name: row.tierName,
    tier_price: row.tierPrice,
    // Tickets issued before price_paid was recorded were sold at the tier's price.
    price_paid: row.pricePaid ?? row.tierPrice,
    checked_in_at: toNairobiIso(row.checkedInAt),
    transferable: row.transferable,
    transfers_left: row.transfersLeft,
    // Always set: the endpoint renders the PNG on demand when delivery has not stored it yet.
    png_url: `${publicBaseUrl}/api/tickets/${row.id}/png/`,
  };
}

/** `POST /api/tickets/{id}/transfer/` (contract v3 §14.1). */
export const TransferRequestSchema = z
  .object({
    email: z.string().openapi({ description: "The recipient's email (an account's, or a new guest's)" }),
    name: z
      .string()
      .openapi({ description: "The recipient's name, 1–100 characters: printed on the ticket" }),
    phone: z.string().optional().openapi({ description: "The recipient's Kenyan mobile number" }),
  })
  .openapi("TicketTransferRequest");

export const TicketTransferredSchema = z
  .object({
    status: z.literal("Ticket Transferred"),
    ticket_id: z.string(),
    recipient_email: z.string().openapi({ description: "Masked: `j***@gmail.com`" }),
    transferred_at: z.string(),
    transfers_left: z.number().int(),
  })
  .openapi("TicketTransferred");
