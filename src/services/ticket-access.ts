/**
 * Who may see a ticket (contract §4 step 2, §5) — the one rule behind the wallet list, the
 * ticket detail, its PNG and its resend:
 *
 * - its owner, except for the tickets of a guest order (placed without signing in, with an
 *   email) while the owning account has not proven that email: anyone can register a
 *   stranger's address, so holding the address in `users.email` is no claim on what a guest
 *   bought with it. The delivery mail still goes to the address, so its real owner loses
 *   nothing; she sees them in the wallet once she proves the inbox;
 * - a transferred ticket (contract v3 §14.3) likewise: whoever sent it typed the recipient's
 *   address, so it is the account's only once that account has proven the email (the
 *   transfer email carries the ticket, so the recipient can enter without an account);
 * - the event's organizer, and that organizer's gate staff.
 *
 * What proves an email: the verification or claim link was used, a password reset through it
 * was completed, or Google signed in with `email_verified` — each sets `is_verified`, and
 * nothing else does. Gate-staff (SCANNER) accounts never count: an organizer types their
 * address, nobody proved it, and checkout refuses to give them guest tickets at all.
 */
import { and, eq, type SQL } from "drizzle-orm";
import { orders, tickets, type User } from "../db/schema";

/** Whether this account has proven it reads its email, so guest orders made with it are its own. */
export function holdsGuestTickets(user: Pick<User, "isVerified" | "role">): boolean {
  return user.isVerified && user.role !== "SCANNER";
}

/** What the rule needs to know of a ticket. */
export interface TicketAccessFacts {
  ownerId: string;
  organizerId: string;
  /** The ticket's order was placed by a guest (`orders.placed_as_guest`). */
  placedAsGuest: boolean;
  /** Transfers so far (`tickets.transfer_count`): a transferred ticket needs the email proven. */
  transferCount: number;
}

/** Whether holding the ticket needs the owner's email proven: a guest order's, or a transferred one. */
function needsEmailProof(ticket: Pick<TicketAccessFacts, "placedAsGuest" | "transferCount">): boolean {
  return ticket.placedAsGuest || ticket.transferCount > 0;
}

/** Whether `viewer` holds the ticket as its owner (wallet, resend). */
export function ownsTicket(
  viewer: User,
  ticket: Pick<TicketAccessFacts, "ownerId" | "placedAsGuest" | "transferCount">,
): boolean {
  return viewer.id === ticket.ownerId && (!needsEmailProof(ticket) || holdsGuestTickets(viewer));
}

/** Whether `viewer` may see the ticket at all: its owner, or the event's organizer and gate staff. */
export function canViewTicket(viewer: User, ticket: TicketAccessFacts): boolean {
  if (ownsTicket(viewer, ticket)) return true;
  if (viewer.role === "ORGANIZER" && viewer.id === ticket.organizerId) return true;
  if (viewer.role === "SCANNER" && viewer.organizerId === ticket.organizerId) return true;
  return false;
}

/**
 * `ownsTicket` as a condition on a query that joins the ticket's order, for the wallet list
 * (the caller adds `tickets.owner_id = viewer`): nothing for an account holding guest
 * tickets, else only never-transferred tickets of orders it placed signed in.
 */
export function ownedOrdersCondition(viewer: User): SQL | undefined {
  return holdsGuestTickets(viewer)
    ? undefined
    : and(eq(orders.placedAsGuest, false), eq(tickets.transferCount, 0));
}
