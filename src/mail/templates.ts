/**
 * Transactional emails: subject, plain text and HTML for each, with every value escaped.
 * Names people choose for themselves (buyer names, usernames) go in through `unlinkable`, so
 * neither part carries a link they wrote (issue #11: phishing text in a buyer's name).
 */
import { escapeHtml, unlinkable } from "../lib/html";

interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

interface Link {
  label: string;
  url: string;
}

function layout(title: string, paragraphs: string[], action?: Link, links: Link[] = []): string {
  const list = links.length
    ? `<ul style="margin:0 0 16px;padding-left:20px">${links
        .map(
          (l) => `<li style="margin:0 0 6px"><a href="${escapeHtml(l.url)}">${escapeHtml(l.label)}</a></li>`,
        )
        .join("")}</ul>`
    : "";
  const body = paragraphs.map((p) => `<p style="margin:0 0 16px">${escapeHtml(p)}</p>`).join("") + list;
  const button = action
    ? `<p style="margin:24px 0"><a href="${escapeHtml(action.url)}" style="background:#7c3aed;color:#fff;padding:12px 20px;border-radius:8px;text-decoration:none;font-weight:bold">${escapeHtml(action.label)}</a></p><p style="margin:0 0 16px;font-size:12px;color:#666">Or paste this link into your browser: ${escapeHtml(action.url)}</p>`
    : "";
  return `<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;color:#111;max-width:560px;margin:auto;padding:24px"><h1 style="font-size:20px">${escapeHtml(title)}</h1>${body}${button}<p style="font-size:12px;color:#666">TicketSafi</p></body></html>`;
}

export function verifyEmailMail(params: { username: string; link: string }): RenderedMail {
  const lines = [
    `Hi ${unlinkable(params.username)},`,
    "Welcome to TicketSafi. Please confirm your email address so we can send you your tickets.",
    "The link works once and expires in 3 days.",
  ];
  return {
    subject: "Confirm your TicketSafi email address",
    text: `${lines.join("\n\n")}\n\n${params.link}\n`,
    html: layout("Confirm your email", lines, { label: "Confirm email", url: params.link }),
  };
}

export function claimAccountMail(params: { link: string }): RenderedMail {
  const lines = [
    "Someone (hopefully you) tried to create a TicketSafi account with this email address.",
    "You already have tickets with us from a guest checkout. Use the link below to activate your account with the password you just chose; your tickets will be waiting.",
    "If this was not you, ignore this email: nothing changes until the link is used. It expires in 3 days.",
  ];
  return {
    subject: "Activate your TicketSafi account",
    text: `${lines.join("\n\n")}\n\n${params.link}\n`,
    html: layout("Activate your account", lines, { label: "Activate account", url: params.link }),
  };
}

export function passwordResetMail(params: { username: string; link: string }): RenderedMail {
  const lines = [
    `Hi ${unlinkable(params.username)},`,
    "We received a request to reset your TicketSafi password. The link below works once and expires in 3 days.",
    "If you did not ask for this, you can ignore this email; your password stays the same.",
  ];
  return {
    subject: "Reset your TicketSafi password",
    text: `${lines.join("\n\n")}\n\n${params.link}\n`,
    html: layout("Reset your password", lines, { label: "Choose a new password", url: params.link }),
  };
}

interface TicketsMailParams {
  buyerName: string;
  eventTitle: string;
  /** Date and time as printed on the tickets (Nairobi time). */
  when: string;
  location: string;
  tierName: string;
  orderReference: string;
  /** One per attached PNG, in seat order. */
  tickets: Array<{ reference: string; walletUrl: string }>;
  /** A copy the buyer asked for again. */
  resend?: boolean;
}

/** The tickets of one order: the PNGs are attached; each also has a link to the wallet. */
export function ticketsMail(params: TicketsMailParams): RenderedMail {
  const count = params.tickets.length;
  const noun = count === 1 ? "ticket" : "tickets";
  const lines = [
    `Hi ${unlinkable(params.buyerName) || "there"},`,
    `${params.resend ? "As requested, here again" : "Here"} ${count === 1 ? "is your ticket" : `are your ${count} tickets`} for ${params.eventTitle}.`,
    [params.tierName, params.when, params.location].filter(Boolean).join(" · "),
    `Order ${params.orderReference}. ${count === 1 ? "The ticket is" : "Each ticket is"} attached as an image: show its QR code at the gate, on your phone or printed. You can also open ${count === 1 ? "it" : "them"} in your wallet:`,
  ];
  const links = params.tickets.map((t, i) => ({
    label: count === 1 ? `Ticket ${t.reference}` : `Ticket ${i + 1} of ${count} (${t.reference})`,
    url: t.walletUrl,
  }));
  return {
    subject: `Your ${noun}: ${params.eventTitle}`,
    text: `${lines.join("\n\n")}\n\n${links.map((l) => `${l.label}: ${l.url}`).join("\n")}\n\nTicketSafi\n`,
    html: layout(count === 1 ? "Your ticket" : "Your tickets", lines, undefined, links),
  };
}

/** §13.6, first email: a refund cancelled tickets; the money is on its way. */
export function refundTicketsCancelledMail(params: {
  buyerName: string;
  eventTitle: string;
  amount: number;
  maskedPhone: string;
  ticketCount: number;
  orderReference: string;
  reason: string;
}): RenderedMail {
  const lines = [
    `Hi ${unlinkable(params.buyerName) || "there"},`,
    `Your ${params.ticketCount === 1 ? "ticket" : `${params.ticketCount} tickets`} for ${params.eventTitle} ${params.ticketCount === 1 ? "is" : "are"} cancelled; KES ${params.amount} is on its way to ${params.maskedPhone} by M-Pesa.`,
    ...(params.reason ? [`Reason: ${unlinkable(params.reason)}`] : []),
    `Order ${params.orderReference}. The cancelled tickets no longer open the gate.`,
  ];
  return {
    subject: `Tickets cancelled: ${params.eventTitle}`,
    text: `${lines.join("\n\n")}\n\nTicketSafi\n`,
    html: layout("Your tickets are cancelled", lines),
  };
}

/** §17: a withdrawal M-Pesa did not complete; its amount is back in the wallet. */
export function payoutReversedMail(params: {
  name: string;
  amount: number;
  reference: string;
  /** Masked (`2547****678`). */
  phone: string;
}): RenderedMail {
  const lines = [
    `Hi ${unlinkable(params.name) || "there"},`,
    `Your withdrawal ${params.reference} of KES ${params.amount} to ${params.phone} could not be completed by M-Pesa.`,
    `The KES ${params.amount} is back in your TicketSafi wallet's available balance. You can withdraw it again from the Payouts page; if this keeps happening, contact support.`,
  ];
  return {
    subject: `Withdrawal ${params.reference} reversed: KES ${params.amount} is back in your wallet`,
    text: `${lines.join("\n\n")}\n\nTicketSafi\n`,
    html: layout("Your withdrawal was reversed", lines),
  };
}

/** §13.6, second email: the refund arrived (or was settled by hand). */
export function refundCompletedMail(params: {
  buyerName: string;
  eventTitle: string;
  amount: number;
  receipt: string | null;
  orderReference: string;
  reason: string;
}): RenderedMail {
  const lines = [
    `Hi ${unlinkable(params.buyerName) || "there"},`,
    `We have refunded KES ${params.amount} for your order ${params.orderReference} (${params.eventTitle}).`,
    params.receipt ? `M-Pesa receipt: ${params.receipt}` : "The refund was settled by the organizer.",
    ...(params.reason ? [`Reason: ${unlinkable(params.reason)}`] : []),
  ];
  return {
    subject: `Refund of KES ${params.amount}: ${params.eventTitle}`,
    text: `${lines.join("\n\n")}\n\nTicketSafi\n`,
    html: layout("Your refund", lines),
  };
}

/** §14.3: a ticket someone transferred to the recipient, its PNG attached (a ticket delivery). */
export function ticketTransferMail(params: {
  recipientName: string;
  senderName: string;
  eventTitle: string;
  when: string;
  location: string;
  tierName: string;
  ticketReference: string;
  walletUrl: string;
  resend?: boolean;
}): RenderedMail {
  const lines = [
    `Hi ${unlinkable(params.recipientName) || "there"},`,
    params.resend
      ? `As requested, here again is your ticket for ${params.eventTitle}.`
      : `${unlinkable(params.senderName) || "A TicketSafi user"} sent you a ticket for ${params.eventTitle}.`,
    [params.tierName, params.when, params.location].filter(Boolean).join(" · "),
    `Ticket ${params.ticketReference}. It is attached as an image: show its QR code at the gate, on your phone or printed. No account is needed to get in.`,
    "It is also in your TicketSafi wallet once you sign in with this email address and confirm it:",
  ];
  const links = [{ label: `Ticket ${params.ticketReference}`, url: params.walletUrl }];
  return {
    subject: `Your ticket: ${params.eventTitle}`,
    text: `${lines.join("\n\n")}\n\n${links.map((l) => `${l.label}: ${l.url}`).join("\n")}\n\nTicketSafi\n`,
    html: layout("Your ticket", lines, undefined, links),
  };
}

/** §14.3: the sender's confirmation, naming the recipient only masked. */
export function ticketTransferSentMail(params: {
  senderName: string;
  eventTitle: string;
  ticketReference: string;
  maskedRecipient: string;
  transfersLeft: number;
}): RenderedMail {
  const lines = [
    `Hi ${unlinkable(params.senderName) || "there"},`,
    `Your ticket ${params.ticketReference} for ${params.eventTitle} was transferred to ${params.maskedRecipient}.`,
    "Your copy of it (the email, the image and its QR code) no longer opens the gate, and the ticket has left your wallet.",
    params.transfersLeft === 1
      ? "Its new holder can transfer it once more."
      : params.transfersLeft > 1
        ? `Its new holder can transfer it ${params.transfersLeft} more times.`
        : "It cannot be transferred again.",
    "If you did not do this, reset your TicketSafi password now.",
  ];
  return {
    subject: `Ticket transferred: ${params.eventTitle}`,
    text: `${lines.join("\n\n")}\n\nTicketSafi\n`,
    html: layout("Ticket transferred", lines),
  };
}

/** §16.3: an endpoint with no 2xx for 72 h is disabled; its organizer hears why. */
export function webhookDisabledMail(params: { name: string; url: string; since: string }): RenderedMail {
  const lines = [
    `Hi ${unlinkable(params.name) || "there"},`,
    `Your webhook endpoint ${unlinkable(params.url)} has not accepted a delivery since ${params.since} (72 hours of failures), so TicketSafi has disabled it and stopped sending to it.`,
    "Fix the receiver, then re-enable the endpoint from the organizer API (PATCH is_active: true). Events that happened while it was disabled are not re-sent; read them through the API.",
  ];
  return {
    subject: "Your TicketSafi webhook endpoint was disabled",
    text: `${lines.join("\n\n")}\n\nTicketSafi\n`,
    html: layout("Webhook endpoint disabled", lines),
  };
}
