/**
 * Who owns an email (issue #11, items 1–3 and 5; contract §2, §4 step 2, §5): each test
 * performs an attack that used to work — a squatter registering a stranger's address and
 * reading that stranger's guest tickets, a registrant choosing the password the real owner's
 * claim click activates, Google sign-in leaving a squatter's password and sessions alive, an
 * anonymous checkout with the organizer's own email — and checks it no longer does.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { networkFakes } from "./fakes/network";
import { countRows, GOOD_PASSWORD, latestLink, registerUser } from "./helpers/accounts";
import { DARAJA, eventWithTiers } from "./helpers/checkout";
import { TestClient, uniqueName } from "./helpers/client";
import { recordingQueue, scannerOf } from "./helpers/tickets";

const OTHER_PASSWORD = "Squatter-Pass-77";

/** An organizer's published event with one free tier, and the client it was made with. */
async function freeEvent(vars: Partial<Record<keyof Env, string>> = {}) {
  const organizer = new TestClient(vars);
  const organizerUser = await registerUser(organizer, { role: "ORGANIZER" });
  const start = Date.UTC(new Date().getUTCFullYear() + 1, 10, 20, 15, 0, 0);
  const created = await organizer.post<{ id: string; tiers: Array<{ id: string }> }>(
    "/api/organizer/events/create/",
    {
      title: uniqueName("Kisumu Lakeside Fest "),
      category: "FESTIVAL",
      location_name: "Kisumu",
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + 5 * 60 * 60 * 1000).toISOString(),
      tiers: [{ name: "Free Entry", price: 0, quantity_allocated: 100, max_per_order: 10 }],
    },
  );
  expect(created.status, created.text).toBe(201);
  return { organizer, organizerUser, eventId: created.body.id, tierId: created.body.tiers[0]?.id ?? "" };
}

/** A guest (not signed-in) free booking with `email`, as the web client's checkout sends it. */
async function guestBooking(tierId: string, email: string, vars: Partial<Record<keyof Env, string>> = {}) {
  return new TestClient(vars).post<{ ticket_ids: string[]; error?: string; detail?: string }>(
    "/api/pay/initiate/",
    {
      tier_id: tierId,
      phone_number: "0712345678",
      quantity: 1,
      email,
      name: "Wanjiru Kamau",
    },
  );
}

/** Everything a wallet owner can do with one ticket: list, detail, PNG, resend. */
async function walletAccess(client: TestClient, ticketId: string) {
  const list = await client.get<{ results: Array<{ id: string }> }>("/api/tickets/");
  return {
    listed: list.body.results.some((t) => t.id === ticketId),
    detail: (await client.get(`/api/tickets/${ticketId}/`)).status,
    png: (await client.get(`/api/tickets/${ticketId}/png/`)).status,
    resend: (await client.post(`/api/tickets/${ticketId}/resend/`)).status,
  };
}

const HIDDEN = { listed: false, detail: 404, png: 404, resend: 404 };

describe("guest tickets and an account that never proved the email (§4 step 2, §5)", () => {
  it("keeps a squatter from seeing a stranger's guest tickets; the owner sees them once proven", async () => {
    const recording = recordingQueue();
    const vars = { DELIVERY_QUEUE: recording.queue } as unknown as Partial<Record<keyof Env, string>>;
    const { tierId } = await freeEvent(vars);
    const victimEmail = `${uniqueName("wanjiru")}@example.com`;

    // The squatter registers the stranger's address (no proof needed) and stays signed in.
    const squatter = new TestClient(vars);
    const squatterUser = await registerUser(squatter, { email: victimEmail, password: OTHER_PASSWORD });

    // The real owner buys as a guest with her own address.
    const booked = await guestBooking(tierId, victimEmail.toUpperCase(), vars);
    expect(booked.status, booked.text).toBe(201);
    const ticketId = booked.body.ticket_ids[0] ?? "";

    // The order names the account holding the address, and the delivery goes to the address.
    const order = await env.DB.prepare(
      "SELECT o.id, o.user_id, o.buyer_email FROM orders o JOIN tickets t ON t.order_id = o.id WHERE t.id = ?",
    )
      .bind(ticketId)
      .first<{ id: string; user_id: string; buyer_email: string }>();
    expect(order?.user_id).toBe(squatterUser.id);
    expect(order?.buyer_email.toLowerCase()).toBe(victimEmail.toLowerCase());
    expect(recording.orderJobs().some((job) => job.orderId === order?.id)).toBe(true);

    // The squatter sees nothing of it: not in the wallet, no detail, no PNG, no resend.
    expect(await walletAccess(squatter, ticketId)).toEqual(HIDDEN);

    // The owner proves the inbox with a password reset: the squatter is out, the ticket hers.
    const reset = await new TestClient(vars).post("/api/auth/password/reset/", { email: victimEmail });
    expect(reset.status).toBe(200);
    const link = await latestLink(new TestClient(), victimEmail, "password-reset");
    const confirmed = await new TestClient(vars).post("/api/auth/password/reset/confirm/", {
      ...link,
      new_password1: GOOD_PASSWORD,
      new_password2: GOOD_PASSWORD,
    });
    expect(confirmed.status, confirmed.text).toBe(200);
    expect((await squatter.get("/api/auth/user/")).status).toBe(401);

    const owner = new TestClient(vars);
    const login = await owner.post("/api/auth/login/", { email: victimEmail, password: GOOD_PASSWORD });
    expect(login.status, login.text).toBe(200);
    expect(await walletAccess(owner, ticketId)).toEqual({ listed: true, detail: 200, png: 200, resend: 202 });
  });

  it("shows guest tickets at once to an account whose email is verified", async () => {
    const { tierId } = await freeEvent();
    const fan = new TestClient();
    const fanUser = await registerUser(fan);
    const verified = await fan.post(
      "/api/auth/guest/activate/",
      await latestLink(fan, fanUser.email, "activate"),
    );
    expect(verified.status).toBe(200);

    const booked = await guestBooking(tierId, fanUser.email);
    expect(booked.status, booked.text).toBe(201);
    const ticketId = booked.body.ticket_ids[0] ?? "";
    const access = await walletAccess(fan, ticketId);
    expect(access).toMatchObject({ listed: true, detail: 200, png: 200 });
  });

  it("still shows an unverified account the tickets it bought while signed in", async () => {
    const { tierId } = await freeEvent();
    const fan = new TestClient();
    await registerUser(fan);
    const booked = await fan.post<{ ticket_ids: string[] }>("/api/pay/initiate/", {
      tier_id: tierId,
      phone_number: "0712345678",
      quantity: 1,
    });
    expect(booked.status, booked.text).toBe(201);
    const ticketId = booked.body.ticket_ids[0] ?? "";
    expect(await walletAccess(fan, ticketId)).toMatchObject({ listed: true, detail: 200, png: 200 });
  });

  it("never gives guest tickets to a gate-staff account: a guest checkout with its email is a 400", async () => {
    const { tierId, organizerUser } = await freeEvent();
    const scanner = await scannerOf(organizerUser.id);
    const me = await scanner.get<{ email: string }>("/api/auth/user/");
    const ordersBefore = await countRows("orders");

    const res = await guestBooking(tierId, me.body.email);
    expect(res.status, res.text).toBe(400);
    expect(res.body).toMatchObject({
      email: ["This address cannot receive tickets."],
      code: "validation_error",
    });
    expect(res.body.error).toBe(res.body.detail);
    expect(await countRows("orders")).toBe(ordersBefore);

    const tier = await env.DB.prepare("SELECT quantity_held, quantity_sold FROM tiers WHERE id = ?")
      .bind(tierId)
      .first<{ quantity_held: number; quantity_sold: number }>();
    expect(tier).toEqual({ quantity_held: 0, quantity_sold: 0 });
  });
});

describe("pre-claim takeover of a shadow account (§2 guest/activate/)", () => {
  async function shadowFromGuestCheckout() {
    const { tierId } = await freeEvent();
    const email = `${uniqueName("shadow")}@example.com`;
    const booked = await guestBooking(tierId, email);
    expect(booked.status, booked.text).toBe(201);
    return { email, ticketId: booked.body.ticket_ids[0] ?? "" };
  }

  it("does not let a registrant choose the password the owner's click activates", async () => {
    const { email, ticketId } = await shadowFromGuestCheckout();

    // The attacker registers the shadow's address with a password of their choosing.
    const attacker = new TestClient();
    const res = await attacker.post("/api/auth/registration/", {
      username: uniqueName("attacker"),
      email,
      password: OTHER_PASSWORD,
      password2: OTHER_PASSWORD,
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ non_field_errors: ["ACCOUNT_EXISTS_NEEDS_ACTIVATION"] });
    // No session, but a cookie binding this browser to the pending password.
    expect(res.setCookies.some((c) => c.startsWith("ticketsafi-auth="))).toBe(false);
    const binding = res.setCookies.find((c) => c.startsWith("ticketsafi-claim="));
    expect(binding).toMatch(/HttpOnly/i);
    expect(binding).toMatch(/Secure/i);

    // The real owner clicks the claim link in her own browser: activated and signed in there.
    const owner = new TestClient();
    const activated = await owner.post<{ user: { is_verified: boolean } }>(
      "/api/auth/guest/activate/",
      await latestLink(owner, email, "activate"),
    );
    expect(activated.status, activated.text).toBe(200);
    expect(activated.body.user.is_verified).toBe(true);
    expect((await owner.get("/api/auth/user/")).status).toBe(200);
    expect(await walletAccess(owner, ticketId)).toMatchObject({ listed: true, detail: 200 });

    // The attacker's password opens nothing.
    const stolen = await new TestClient().post("/api/auth/login/", { email, password: OTHER_PASSWORD });
    expect(stolen.status).toBe(400);
  });

  it("applies none of the registrant's choices (username, organizer role) in another browser", async () => {
    const { email } = await shadowFromGuestCheckout();
    const attackerName = uniqueName("attacker");
    const res = await new TestClient().post("/api/auth/registration/", {
      username: attackerName,
      email,
      password: OTHER_PASSWORD,
      password2: OTHER_PASSWORD,
      role: "ORGANIZER",
    });
    expect(res.body).toEqual({ non_field_errors: ["ACCOUNT_EXISTS_NEEDS_ACTIVATION"] });

    const owner = new TestClient();
    const activated = await owner.post<{ user: { username: string; role: string; is_verified: boolean } }>(
      "/api/auth/guest/activate/",
      await latestLink(owner, email, "activate"),
    );
    expect(activated.status, activated.text).toBe(200);
    expect(activated.body.user.role).toBe("ATTENDEE");
    expect(activated.body.user.username).not.toBe(attackerName);
    expect(activated.body.user.is_verified).toBe(true);
  });

  it("applies the chosen password when the link is used in the browser that registered", async () => {
    const { email } = await shadowFromGuestCheckout();
    const browser = new TestClient();
    const res = await browser.post("/api/auth/registration/", {
      username: uniqueName("owner"),
      email,
      password: GOOD_PASSWORD,
      password2: GOOD_PASSWORD,
    });
    expect(res.status).toBe(400);
    const activated = await browser.post(
      "/api/auth/guest/activate/",
      await latestLink(browser, email, "activate"),
    );
    expect(activated.status, activated.text).toBe(200);
    const login = await new TestClient().post("/api/auth/login/", { email, password: GOOD_PASSWORD });
    expect(login.status, login.text).toBe(200);
  });

  it("ignores a claim cookie that does not match the link's registration", async () => {
    const { email } = await shadowFromGuestCheckout();
    const attacker = new TestClient();
    await attacker.post("/api/auth/registration/", {
      username: uniqueName("attacker"),
      email,
      password: OTHER_PASSWORD,
      password2: OTHER_PASSWORD,
    });
    // The owner's browser carries some other (forged) binding.
    const owner = new TestClient();
    owner.cookies.set("ticketsafi-claim", "not-the-attackers-secret");
    const activated = await owner.post(
      "/api/auth/guest/activate/",
      await latestLink(owner, email, "activate"),
    );
    expect(activated.status).toBe(200);
    expect(
      (await new TestClient().post("/api/auth/login/", { email, password: OTHER_PASSWORD })).status,
    ).toBe(400);
  });
});

describe("Google sign-in over an account that never proved its email (§2 google/)", () => {
  it("marks it verified, clears the squatter's password and ends every session", async () => {
    const email = `${uniqueName("gowner")}@gmail.com`;
    const squatter = new TestClient();
    const squatterUser = await registerUser(squatter, { email, password: OTHER_PASSWORD });
    const second = new TestClient();
    expect((await second.post("/api/auth/login/", { email, password: OTHER_PASSWORD })).status).toBe(200);

    const owner = new TestClient();
    const res = await owner.post<{ user: { id: string; is_verified: boolean } }>("/api/auth/google/", {
      access_token: networkFakes.google.issueToken({ email }),
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user).toMatchObject({ id: squatterUser.id, is_verified: true });

    expect((await squatter.get("/api/auth/user/")).status).toBe(401);
    expect((await second.get("/api/auth/user/")).status).toBe(401);
    const again = await new TestClient().post("/api/auth/login/", { email, password: OTHER_PASSWORD });
    expect(again.status).toBe(400);
    expect((await owner.get("/api/auth/user/")).status).toBe(200);
  });

  it("makes the guest tickets of that address the Google owner's, never the squatter's", async () => {
    const { tierId } = await freeEvent();
    const email = `${uniqueName("gguest")}@gmail.com`;
    const squatter = new TestClient();
    await registerUser(squatter, { email, password: OTHER_PASSWORD });
    const booked = await guestBooking(tierId, email);
    expect(booked.status, booked.text).toBe(201);
    const ticketId = booked.body.ticket_ids[0] ?? "";
    expect(await walletAccess(squatter, ticketId)).toEqual(HIDDEN);

    const owner = new TestClient();
    const res = await owner.post("/api/auth/google/", {
      access_token: networkFakes.google.issueToken({ email }),
    });
    expect(res.status, res.text).toBe(200);
    expect(await walletAccess(owner, ticketId)).toEqual({ listed: true, detail: 200, png: 200, resend: 202 });
    expect((await squatter.get(`/api/tickets/${ticketId}/`)).status).toBe(401);
  });

  it("leaves a proven account's password and sessions alone", async () => {
    const fan = new TestClient();
    const fanUser = await registerUser(fan, { email: `${uniqueName("gproven")}@gmail.com` });
    expect(
      (await fan.post("/api/auth/guest/activate/", await latestLink(fan, fanUser.email, "activate"))).status,
    ).toBe(200);
    const res = await new TestClient().post("/api/auth/google/", {
      access_token: networkFakes.google.issueToken({ email: fanUser.email }),
    });
    expect(res.status).toBe(200);
    expect((await fan.get("/api/auth/user/")).status).toBe(200);
    const login = await new TestClient().post("/api/auth/login/", {
      email: fanUser.email,
      password: GOOD_PASSWORD,
    });
    expect(login.status).toBe(200);
  });
});

describe("the organizer's own event, bought anonymously (§4 step 1 and 2)", () => {
  it("refuses a guest checkout with the organizer's own email, and holds no seat", async () => {
    const { tierId, organizerUser } = await freeEvent();
    const ordersBefore = await countRows("orders");
    const res = await guestBooking(tierId, organizerUser.email.toUpperCase());
    expect(res.status, res.text).toBe(403);
    expect(res.body).toMatchObject({ code: "permission_denied" });
    expect(await countRows("orders")).toBe(ordersBefore);
    const tier = await env.DB.prepare("SELECT quantity_held, quantity_sold FROM tiers WHERE id = ?")
      .bind(tierId)
      .first<{ quantity_held: number; quantity_sold: number }>();
    expect(tier).toEqual({ quantity_held: 0, quantity_sold: 0 });
  });

  it("refuses it on a paid tier too, before any seat is held or any STK push sent", async () => {
    const { organizer, tiers } = await eventWithTiers([{ name: "VIP", price: 2500, quantity_allocated: 10 }]);
    const tierId = tiers[0]?.id ?? "";
    const me = await organizer.get<{ email: string }>("/api/auth/user/");
    const pushesBefore = networkFakes.daraja.pushRequests.length;
    const res = await new TestClient(DARAJA).post("/api/pay/initiate/", {
      tier_id: tierId,
      phone_number: "0712345678",
      email: me.body.email,
      name: "Self Dealer",
    });
    expect(res.status, res.text).toBe(403);
    expect(res.body).toMatchObject({ code: "permission_denied" });
    expect(networkFakes.daraja.pushRequests.length).toBe(pushesBefore);
    expect(await countRows("orders", "tier_id = ?", tierId)).toBe(0);
    const tier = await env.DB.prepare("SELECT quantity_held FROM tiers WHERE id = ?")
      .bind(tierId)
      .first<{ quantity_held: number }>();
    expect(tier?.quantity_held).toBe(0);
  });
});
