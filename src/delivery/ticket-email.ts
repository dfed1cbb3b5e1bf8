/**
 * The "your tickets" email for a completed order: one per order (dedupe key), queued through
 * the mail module so the request that completed the order never waits on Brevo. It links
 * each ticket in the wallet; the rendered PNGs are attached by the delivery pipeline.
 */
import { asc, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, orders, tickets, tiers } from "../db/schema";
import { escapeHtml } from "../lib/html";
import { toNairobiIso } from "../lib/time";
import { type MailDeps, queueMail } from "../mail/mailer";

export async function queueTicketEmail(mail: MailDeps, db: Database, orderId: string): Promise<void> {
  const [row] = await db
    .select({
      order: orders,
      eventTitle: events.title,
      startAt: events.startAt,
      location: events.locationName,
      tierName: tiers.name,
    })
    .from(orders)
    .innerJoin(events, eq(events.id, orders.eventId))
    .innerJoin(tiers, eq(tiers.id, orders.tierId))
    .where(eq(orders.id, orderId))
    .limit(1);
  if (!row) return;
  const issued = await db
    .select({ id: tickets.id })
    .from(tickets)
    .where(eq(tickets.orderId, orderId))
    .orderBy(asc(tickets.seatIndex));
  const { order } = row;
  const frontend = mail.config.frontendUrl;
  const when = (toNairobiIso(row.startAt) ?? "").replace("T", " ").slice(0, 16);
  const links = issued.map((t, i) => ({
    label: `Ticket ${i + 1} (${t.id.slice(-10).toUpperCase()})`,
    url: `${frontend}/tickets/${t.id}`,
  }));
  const intro = `Hi ${order.buyerName || "there"}, here ${issued.length === 1 ? "is your ticket" : `are your ${issued.length} tickets`} for ${row.eventTitle}: ${row.tierName}, ${when} (Nairobi time), ${row.location}. Order ${order.reference}.`;
  await queueMail(mail, {
    kind: "tickets",
    to: { email: order.buyerEmail, name: order.buyerName },
    subject: `Your tickets: ${row.eventTitle}`,
    text: `${intro}\n\nShow the QR code at the gate:\n${links.map((l) => `${l.label}: ${l.url}`).join("\n")}\n\nTicketSafi\n`,
    html: `<p>${escapeHtml(intro)}</p><p>Show the QR code at the gate:</p><ul>${links
      .map((l) => `<li><a href="${escapeHtml(l.url)}">${escapeHtml(l.label)}</a></li>`)
      .join("")}</ul><p>TicketSafi</p>`,
    dedupeKey: `order:${orderId}:tickets`,
    orderId,
  });
}
