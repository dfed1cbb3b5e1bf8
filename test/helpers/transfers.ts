/** Builders for the transfer and revocation tests: accounts that proved their email, transfers, tokens. */
import { env } from "cloudflare:workers";
import { base64url } from "jose";
import { expect } from "vitest";
import { latestLink, type RegisteredUser, registerUser } from "./accounts";
import { type ApiResponse, TestClient } from "./client";

type Vars = Partial<Record<keyof Env, string>>;

/** A registered account that used its verification link (so transferred tickets are its own). */
export async function verifiedUser(vars: Vars = {}): Promise<{ client: TestClient; user: RegisteredUser }> {
  const client = new TestClient(vars);
  const user = await registerUser(client);
  const link = await latestLink(client, user.email, "activate");
  const activated = await client.post("/api/auth/guest/activate/", link);
  expect(activated.status, activated.text).toBe(200);
  return { client, user };
}

export interface TransferAnswer {
  status?: string;
  ticket_id?: string;
  recipient_email?: string;
  transferred_at?: string;
  transfers_left?: number;
  error?: string;
  detail?: string;
  code?: string;
  email?: string[];
  name?: string[];
  phone?: string[];
}

export function transfer(
  client: TestClient,
  ticketId: string,
  body: unknown,
): Promise<ApiResponse<TransferAnswer>> {
  return client.post<TransferAnswer>(`/api/tickets/${ticketId}/transfer/`, body);
}

export interface TicketState {
  owner_id: string;
  status: string;
  qr_code_hash: string;
  ticket_hash: string;
  token_version: number;
  transfer_count: number;
  attendee_name: string;
  attendee_email: string;
  change_seq: number;
  png_key: string | null;
}

export async function ticketState(id: string): Promise<TicketState> {
  const row = await env.DB.prepare(
    `SELECT owner_id, status, qr_code_hash, ticket_hash, token_version, transfer_count, attendee_name,
       attendee_email, change_seq, png_key FROM tickets WHERE id = ?`,
  )
    .bind(id)
    .first<TicketState>();
  if (!row) throw new Error(`no ticket ${id}`);
  return row;
}

/** The JWS payload of a ticket token (what a scanner reads after verifying it). */
export function tokenPayload(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  return JSON.parse(new TextDecoder().decode(base64url.decode(part))) as Record<string, unknown>;
}

export async function revocationsOf(ticketId: string) {
  const rows = await env.DB.prepare(
    "SELECT ticket_hash, reason, token_version, revoked_at, change_seq FROM ticket_revocations WHERE ticket_id = ? ORDER BY change_seq",
  )
    .bind(ticketId)
    .all<{
      ticket_hash: string;
      reason: string;
      token_version: number;
      revoked_at: number;
      change_seq: number;
    }>();
  return rows.results;
}

export async function transfersOf(ticketId: string) {
  const rows = await env.DB.prepare("SELECT * FROM ticket_transfers WHERE ticket_id = ? ORDER BY to_version")
    .bind(ticketId)
    .all<Record<string, unknown>>();
  return rows.results;
}

let counter = 0;
/** A fresh recipient address no account has. */
export function newAddress(prefix = "friend"): string {
  counter++;
  return `${prefix}${counter}${crypto.randomUUID().slice(0, 8)}@example.com`;
}
