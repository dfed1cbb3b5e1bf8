/**
 * The organizer's CSV export (contract §6): exact header, full data, RFC 4180 quoting, no
 * formula injection, and cookie auth on the plain GET the web client navigates to.
 */

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EditEventSchema } from "../src/http/views/event";
import { BookingConfirmedSchema, PaymentInitiatedSchema } from "../src/http/views/payment";
import { TicketSchema } from "../src/http/views/ticket";
import { csvCell } from "../src/lib/csv";
import { networkFakes } from "./fakes/network";
import { GOOD_PASSWORD, registerUser } from "./helpers/accounts";
import { TestClient, uniqueName } from "./helpers/client";

const DAY = 24 * 60 * 60 * 1000;
const HEADER =
  "Ticket ID,Status,Attendee Name,Attendee Email,Ticket Tier,Tier Price,Purchase Date,Checked In At";
/** Real Daraja (the fake at the network edge) for the paid ticket. */
const DARAJA = {
  MPESA_CONSUMER_KEY: "test-consumer-key",
  MPESA_CONSUMER_SECRET: "test-consumer-secret",
} as const;
const CALLBACK_PATH = "/api/pay/callback/test-callback-token-0123456789abcdef/";

/** A strict RFC 4180 reader: CRLF records, quoted fields with doubled quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i++;
      } else {
        field += ch;
        i++;
      }
    } else if (ch === '"' && field === "") {
      quoted = true;
      i++;
    } else if (ch === ",") {
      row.push(field);
      field = "";
      i++;
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i += 2;
    } else {
      if (ch === '"' || ch === "\n" || ch === "\r") throw new Error(`bare ${JSON.stringify(ch)} at ${i}`);
      field += ch;
      i++;
    }
  }
  if (quoted || field !== "" || row.length > 0) throw new Error("unterminated last record");
  return rows;
}

async function setup() {
  const client = new TestClient(DARAJA);
  const user = await registerUser(client, { role: "ORGANIZER" });
  const start = Date.now() + 7 * DAY;
  const res = await client.post(
    "/api/organizer/events/create/",
    {
      title: "Blankets & Wine, Nairobi",
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + DAY / 4).toISOString(),
      tiers: [
        { name: "Free Entry", price: 0, quantity_allocated: 50 },
        { name: 'VIP, "Gold"', price: 1500, quantity_allocated: 50 },
      ],
    },
    { schema: EditEventSchema },
  );
  expect(res.status, res.text).toBe(201);
  return { client, user, event: res.body };
}

async function bookFree(tierId: string, name: string, email = `${uniqueName("fan")}@example.com`) {
  const res = await new TestClient().post(
    "/api/pay/initiate/",
    {
      tier_id: tierId,
      phone_number: "0712345678",
      email,
      name,
    },
    { schema: BookingConfirmedSchema },
  );
  expect(res.status, res.text).toBe(201);
  return { id: res.body.ticket_id ?? "", email };
}

async function bookPaid(tierId: string) {
  const buyer = new TestClient(DARAJA);
  const user = await registerUser(buyer);
  const init = await buyer.post(
    "/api/pay/initiate/",
    {
      tier_id: tierId,
      phone_number: "0712345678",
    },
    { schema: PaymentInitiatedSchema },
  );
  expect(init.status, init.text).toBe(202);
  const callback = networkFakes.daraja.callbackFor(init.body.checkout_request_id, { resultCode: 0 });
  expect((await new TestClient(DARAJA).post(CALLBACK_PATH, callback)).status).toBe(200);
  const row = await env.DB.prepare("SELECT id FROM tickets WHERE order_id = ?")
    .bind(init.body.order_id)
    .first<{ id: string }>();
  return { id: row?.id ?? "", email: user.email };
}

const exportPath = (id: string) => `/api/organizer/events/${id}/export/`;

describe("csvCell", () => {
  it("quotes commas, quotes and line breaks and neutralises formulas", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell("a,b")).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell("line\nbreak")).toBe('"line\nbreak"');
    expect(csvCell("=1+1")).toBe("'=1+1");
    expect(csvCell("+254712345678")).toBe("'+254712345678");
    expect(csvCell("-2")).toBe("'-2");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvCell("\tx")).toBe("'\tx");
    expect(csvCell("\rx")).toBe('"\'\rx"');
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe('"\'=HYPERLINK(""http://x"",""y"")"');
    expect(csvCell(null)).toBe("");
  });
});

describe("GET /api/organizer/events/{id}/export/", () => {
  it("exports every ticket with full data under the exact header, on the organizer's cookie", async () => {
    const { client, event } = await setup();
    const [free, vip] = event.tiers;
    const a = await bookFree(free?.id ?? "", "Amani Njoroge");
    const paid = await bookPaid(vip?.id ?? "");
    const { body: ticket } = await client.get(`/api/tickets/${a.id}/`, { schema: TicketSchema });
    expect((await client.post("/api/scanner/verify/", { qr_hash: ticket.qr_code_hash })).status).toBe(200);

    // A plain GET with the session cookie, as the browser does when the web client navigates.
    expect(client.cookies.size).toBeGreaterThan(0);
    const res = await client.get(exportPath(event.id));
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("content-disposition")).toBe(
      'attachment; filename="blankets-wine-nairobi-attendees.csv"',
    );
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.text.startsWith(`${HEADER}\r\n`)).toBe(true);

    const rows = parseCsv(res.text);
    expect(rows[0]?.join(",")).toBe(HEADER);
    expect(rows).toHaveLength(3);
    const byId = new Map(rows.slice(1).map((r) => [r[0], r]));
    expect(byId.get(a.id)).toEqual([
      a.id,
      "CHECKED_IN",
      "Amani Njoroge",
      a.email,
      "Free Entry",
      "0.00",
      expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00$/),
      expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00$/),
    ]);
    expect(byId.get(paid.id)).toMatchObject({
      1: "ACTIVE",
      3: paid.email,
      4: 'VIP, "Gold"',
      5: "1500.00",
      7: "",
    });
  });

  it("quotes names with commas, quotes and newlines, and neutralises formula cells", async () => {
    const { client, event } = await setup();
    const tierId = event.tiers[0]?.id ?? "";
    const names = [
      'Kamau, "Jnr"',
      "Line one\nLine two",
      '=HYPERLINK("http://evil.example","Click")',
      "+254712345678",
      "-1+1",
      "@SUM(A1:A9)",
      "Plain Name",
    ];
    const ids = [];
    for (const name of names) ids.push((await bookFree(tierId, name)).id);
    const tab = await bookFree(tierId, "tabbed");
    const cr = await bookFree(tierId, "cr");
    // Names the checkout form would trim, written as another client might have stored them.
    await env.DB.prepare("UPDATE tickets SET attendee_name = ? WHERE id = ?").bind("\t=cmd", tab.id).run();
    await env.DB.prepare("UPDATE tickets SET attendee_name = ? WHERE id = ?").bind("\r=cmd", cr.id).run();
    const formulaEmail = await bookFree(tierId, "Mail");
    const hostileEmail = `=${uniqueName("x")}@example.com`;
    await env.DB.prepare("UPDATE tickets SET attendee_email = ? WHERE id = ?")
      .bind(hostileEmail, formulaEmail.id)
      .run();

    const res = await client.get(exportPath(event.id));
    const rows = parseCsv(res.text);
    const nameOf = new Map(rows.slice(1).map((r) => [r[0], r[2]]));
    expect(ids.map((id) => nameOf.get(id))).toEqual([
      'Kamau, "Jnr"',
      "Line one\nLine two",
      `'=HYPERLINK("http://evil.example","Click")`,
      "'+254712345678",
      "'-1+1",
      "'@SUM(A1:A9)",
      "Plain Name",
    ]);
    expect(nameOf.get(tab.id)).toBe("'\t=cmd");
    expect(nameOf.get(cr.id)).toBe("'\r=cmd");
    expect(rows.find((r) => r[0] === formulaEmail.id)?.[3]).toBe(`'${hostileEmail}`);
    // No cell of the file starts a formula.
    for (const row of rows) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    expect(res.text).toContain('"Kamau, ""Jnr"""');
  });

  it("works with only the refresh cookie (the access cookie expired), as the browser would send", async () => {
    const { client, event } = await setup();
    await bookFree(event.tiers[0]?.id ?? "", "Late Night");
    client.cookies.delete("ticketsafi-auth");
    const res = await client.get(exportPath(event.id));
    expect(res.status, res.text).toBe(200);
    expect(res.text.split("\r\n")[0]).toBe(HEADER);
  });

  it("is the organizer's own record: others get 404, scanners and fans 403, strangers 401", async () => {
    const { client, event } = await setup();
    await bookFree(event.tiers[0]?.id ?? "", "Private Person");
    const rival = new TestClient();
    await registerUser(rival, { role: "ORGANIZER" });
    expect((await rival.get(exportPath(event.id))).status).toBe(404);
    const username = uniqueName("gate");
    await client.post("/api/organizer/team/scanners/create/", { username, password: GOOD_PASSWORD });
    const scanner = new TestClient();
    await scanner.post("/api/auth/login/", { username, password: GOOD_PASSWORD });
    expect((await scanner.get(exportPath(event.id))).status).toBe(403);
    const fan = new TestClient();
    await registerUser(fan);
    expect((await fan.get(exportPath(event.id))).status).toBe(403);
    expect((await new TestClient().get(exportPath(event.id))).status).toBe(401);
  });

  it("exports an event with no tickets as the header alone", async () => {
    const { client, event } = await setup();
    const res = await client.get(exportPath(event.id));
    expect(res.status).toBe(200);
    expect(res.text).toBe(`${HEADER}\r\n`);
  });
});
