/** Account emails: subject, plain text and HTML for each, with every value escaped. */
import { escapeHtml } from "../lib/html";

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

function layout(title: string, paragraphs: string[], action?: { label: string; url: string }): string {
  const body = paragraphs.map((p) => `<p style="margin:0 0 16px">${escapeHtml(p)}</p>`).join("");
  const button = action
    ? `<p style="margin:24px 0"><a href="${escapeHtml(action.url)}" style="background:#7c3aed;color:#fff;padding:12px 20px;border-radius:8px;text-decoration:none;font-weight:bold">${escapeHtml(action.label)}</a></p><p style="margin:0 0 16px;font-size:12px;color:#666">Or paste this link into your browser: ${escapeHtml(action.url)}</p>`
    : "";
  return `<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;color:#111;max-width:560px;margin:auto;padding:24px"><h1 style="font-size:20px">${escapeHtml(title)}</h1>${body}${button}<p style="font-size:12px;color:#666">TicketSafi</p></body></html>`;
}

export function verifyEmailMail(params: { username: string; link: string }): RenderedMail {
  const lines = [
    `Hi ${params.username},`,
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
    `Hi ${params.username},`,
    "We received a request to reset your TicketSafi password. The link below works once and expires in 3 days.",
    "If you did not ask for this, you can ignore this email; your password stays the same.",
  ];
  return {
    subject: "Reset your TicketSafi password",
    text: `${lines.join("\n\n")}\n\n${params.link}\n`,
    html: layout("Reset your password", lines, { label: "Choose a new password", url: params.link }),
  };
}
