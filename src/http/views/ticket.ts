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
    // Always set: the endpoint renders the PNG on demand when delivery has not stored it yet.
    png_url: `${publicBaseUrl}/api/tickets/${row.id}/png/`,
  };
}
