import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EventCancelledSchema } from "../src/http/routes/organizer-events";
import { EditEventSchema } from "../src/http/views/event";
import { countRows, registerUser } from "./helpers/accounts";
import { TestClient, uniqueName } from "./helpers/client";
import { PNG_1X1 } from "./helpers/images";
import { runDeliveryConsumer } from "./helpers/refunds";

const DAY = 24 * 60 * 60 * 1000;

async function organizer() {
  const client = new TestClient();
  const user = await registerUser(client, { role: "ORGANIZER" });
  return { client, user };
}

function eventJson(overrides: Record<string, unknown> = {}) {
  const start = Date.now() + 10 * DAY;
  return {
    title: uniqueName("Jazz Night "),
    description: "Live jazz at the Alchemist",
    category: "concert",
    location_name: "The Alchemist, Westlands",
    start_datetime: new Date(start).toISOString(),
    end_datetime: new Date(start + 5 * 60 * 60 * 1000).toISOString(),
    tiers: [
      { name: "Regular", description: "Entry", price: 1500, quantity_allocated: 100 },
      { name: "VIP", description: "Front row", price: "3500.00", quantity_allocated: 20, max_per_order: 4 },
    ],
    ...overrides,
  };
}

/** Exactly what the original web client's CreateEventPage sends. */
function browserForm(poster?: File) {
  const start = Date.now() + 12 * DAY;
  const form = new FormData();
  form.append("title", uniqueName("Sauti Sol Live "));
  form.append("description", "An evening of Kenyan pop");
  form.append("location_name", "KICC Grounds, Nairobi");
  form.append("start_datetime", new Date(start).toISOString());
  form.append("end_datetime", new Date(start + 4 * 60 * 60 * 1000).toISOString());
  form.append("is_offline_ready", "true");
  if (poster) form.append("poster_image", poster);
  form.append(
    "tiers",
    JSON.stringify([
      { name: "General Admission", description: "Standard entry", price: 1500, quantity_allocated: 300 },
      { name: "Free Kids", description: "Under 12", price: 0, quantity_allocated: 50 },
    ]),
  );
  return form;
}

describe("POST /api/organizer/events/create/", () => {
  it("creates an event from the web client's multipart form, poster included", async () => {
    const { client } = await organizer();
    const poster = new File([PNG_1X1], "poster.png", { type: "image/png" });
    const res = await client.request("POST", "/api/organizer/events/create/", {
      form: browserForm(poster),
      schema: EditEventSchema,
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.category).toBe("OTHER");
    expect(res.body.is_published).toBe(true);
    expect(res.body.is_private).toBe(false);
    expect(res.body.start_datetime).toMatch(/\+03:00$/);
    expect(
      res.body.tiers.map((t) => [t.name, t.price, t.quantity_allocated, t.quantity_sold, t.max_per_order]),
    ).toEqual([
      ["General Admission", "1500.00", 300, 0, 10],
      ["Free Kids", "0.00", 50, 0, 10],
    ]);
    expect(res.body.poster_image).toMatch(
      /^https:\/\/api\.ticketsafi\.test\/media\/posters\/[0-9a-f-]{36}\.png$/,
    );
    const key = new URL(res.body.poster_image ?? "").pathname.replace("/media/", "");
    const object = await env.MEDIA.get(key);
    expect(object?.httpMetadata?.contentType).toBe("image/png");
    const row = await env.DB.prepare("SELECT lowest_price, highest_price FROM events WHERE id = ?")
      .bind(res.body.id)
      .first();
    expect(row).toEqual({ lowest_price: 0, highest_price: 1500 });
  });

  it("creates an event from JSON with the category any case", async () => {
    const { client } = await organizer();
    const res = await client.post("/api/organizer/events/create/", eventJson(), { schema: EditEventSchema });
    expect(res.status, res.text).toBe(201);
    expect(res.body.category).toBe("CONCERT");
    expect(res.body.tiers[1]).toMatchObject({ name: "VIP", price: "3500.00", max_per_order: 4 });
  });

  it("joins the organizer's only store when none is named, and refuses someone else's store", async () => {
    const { client, user } = await organizer();
    const storeId = crypto.randomUUID();
    await env.DB.prepare("INSERT INTO stores (id, organizer_id, name, slug) VALUES (?, ?, ?, ?)")
      .bind(storeId, user.id, "Mine", uniqueName("mine-"))
      .run();
    const joined = await client.post("/api/organizer/events/create/", eventJson(), {
      schema: EditEventSchema,
    });
    expect(joined.body.store).toBe(storeId);
    // An explicitly empty store means a standalone event.
    const standalone = await client.post("/api/organizer/events/create/", eventJson({ store: "" }), {
      schema: EditEventSchema,
    });
    expect(standalone.body.store).toBeNull();

    const other = await organizer();
    const foreignStore = crypto.randomUUID();
    await env.DB.prepare("INSERT INTO stores (id, organizer_id, name, slug) VALUES (?, ?, ?, ?)")
      .bind(foreignStore, other.user.id, "Theirs", uniqueName("theirs-"))
      .run();
    const before = await countRows("events", "organizer_id = ?", user.id);
    const res = await client.post("/api/organizer/events/create/", eventJson({ store: foreignStore }));
    expect(res.status).toBe(400);
    expect(res.body.store).toBeDefined();
    expect(await countRows("events", "organizer_id = ?", user.id)).toBe(before);
  });

  it.each([
    ["no tiers", { tiers: [] }, "tiers"],
    ["tiers that are not JSON", { tiers: "[{oops" }, "tiers"],
    [
      "an unknown tier key",
      { tiers: [{ name: "A", price: 10, quantity_allocated: 5, colour: "red" }] },
      "tiers",
    ],
    ["a negative price", { tiers: [{ name: "A", price: -5, quantity_allocated: 5 }] }, "tiers"],
    ["cents in a price", { tiers: [{ name: "A", price: "99.50", quantity_allocated: 5 }] }, "tiers"],
    ["zero allocation", { tiers: [{ name: "A", price: 10, quantity_allocated: 0 }] }, "tiers"],
    ["end before start", { end_datetime: new Date(Date.now()).toISOString() }, "end_datetime"],
    ["a bad datetime", { start_datetime: "next friday" }, "start_datetime"],
    ["an unknown category", { category: "RAVE" }, "category"],
    ["a missing title", { title: "" }, "title"],
    ["a store id that is not a uuid", { store: "42" }, "store"],
  ])("refuses %s with a 400 naming the field, writing nothing", async (_label, overrides, field) => {
    const { client, user } = await organizer();
    const res = await client.post("/api/organizer/events/create/", eventJson(overrides));
    expect(res.status, res.text).toBe(400);
    expect(res.body[field], res.text).toBeDefined();
    expect(await countRows("events", "organizer_id = ?", user.id)).toBe(0);
  });

  it("refuses a disguised or oversized poster and stores nothing", async () => {
    const { client, user } = await organizer();
    const before = (await env.MEDIA.list({ prefix: "posters/" })).objects.length;
    const fake = new File([new TextEncoder().encode("<?php echo 1; ?>")], "poster.png", {
      type: "image/png",
    });
    const disguised = await client.request("POST", "/api/organizer/events/create/", {
      form: browserForm(fake),
    });
    expect(disguised.status).toBe(415);
    expect(disguised.body.poster_image).toBeDefined();

    const big = new Uint8Array(5 * 1024 * 1024 + 10);
    big.set(PNG_1X1);
    const oversized = await client.request("POST", "/api/organizer/events/create/", {
      form: browserForm(new File([big], "big.png", { type: "image/png" })),
    });
    expect(oversized.status).toBe(413);
    expect((await env.MEDIA.list({ prefix: "posters/" })).objects.length).toBe(before);
    expect(await countRows("events", "organizer_id = ?", user.id)).toBe(0);
  });

  it("is for organizers only", async () => {
    const attendee = new TestClient();
    await registerUser(attendee);
    expect((await attendee.post("/api/organizer/events/create/", eventJson())).status).toBe(403);
    expect((await new TestClient().post("/api/organizer/events/create/", eventJson())).status).toBe(401);
  });
});

describe("GET|PATCH /api/organizer/events/{id}/edit/", () => {
  it("is 404 for another organizer's event and for a malformed id", async () => {
    const owner = await organizer();
    const created = await owner.client.post("/api/organizer/events/create/", eventJson(), {
      schema: EditEventSchema,
    });
    const intruder = await organizer();
    const path = `/api/organizer/events/${created.body.id}/edit/`;
    expect((await intruder.client.get(path)).status).toBe(404);
    expect((await intruder.client.patch(path, { title: "Mine now" })).status).toBe(404);
    expect((await intruder.client.request("DELETE", path)).status).toBe(404);
    expect((await owner.client.get("/api/organizer/events/not-a-uuid/edit/")).status).toBe(404);
    expect((await owner.client.get(path)).body.title).toBe(created.body.title);
  });

  it("updates tiers by id, creates tiers without id, deletes tiers left out", async () => {
    const { client } = await organizer();
    const created = await client.post("/api/organizer/events/create/", eventJson(), {
      schema: EditEventSchema,
    });
    const [regular] = created.body.tiers;
    const res = await client.patch(
      `/api/organizer/events/${created.body.id}/edit/`,
      {
        title: "Renamed",
        tiers: JSON.stringify([
          { ...regular, price: "1800", quantity_allocated: 150 },
          { name: "Early Bird", price: 1000, quantity_allocated: 30 },
        ]),
      },
      { schema: EditEventSchema },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.title).toBe("Renamed");
    expect(res.body.tiers.map((t) => [t.name, t.price, t.quantity_allocated])).toEqual([
      ["Regular", "1800.00", 150],
      ["Early Bird", "1000.00", 30],
    ]);
    expect(res.body.tiers[0]?.id).toBe(regular?.id);
  });

  it("keeps tiers with sales when left out, refuses allocation below sold + held, and refuses to unpublish", async () => {
    const { client } = await organizer();
    const created = await client.post("/api/organizer/events/create/", eventJson(), {
      schema: EditEventSchema,
    });
    const [regular, vip] = created.body.tiers;
    if (!regular || !vip) throw new Error("tiers missing");
    // 8 seats sold on Regular, through its Durable Object.
    const stub = env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier:${regular.id}`));
    await stub.reserve("order-1", 8, 60_000, { allocation: 100, sold: 0 });
    await stub.confirm("order-1", 8);
    await env.DB.prepare("UPDATE tiers SET quantity_sold = 8 WHERE id = ?").bind(regular.id).run();

    const path = `/api/organizer/events/${created.body.id}/edit/`;
    const tooLow = await client.patch(path, { tiers: [{ ...regular, quantity_allocated: 7 }, vip] });
    expect(tooLow.status).toBe(400);
    expect(String((tooLow.body.tiers as string[])[0])).toMatch(/below the 8 tickets/);

    const leftOut = await client.patch(path, { tiers: [vip] }, { schema: EditEventSchema });
    expect(leftOut.status).toBe(200);
    expect(leftOut.body.tiers.map((t) => t.name).sort()).toEqual(["Regular", "VIP"]);

    const unpublish = await client.patch(path, { is_published: false });
    expect(unpublish.status).toBe(400);
    expect(unpublish.body.is_published).toBeDefined();

    const exact = await client.patch(
      path,
      {
        tiers: [{ ...regular, quantity_allocated: 8 }, vip],
      },
      { schema: EditEventSchema },
    );
    expect(exact.status).toBe(200);
    expect(exact.body.tiers.find((t) => t.id === regular.id)?.quantity_allocated).toBe(8);
  });

  it("replaces the poster and deletes the old object; refuses bad input", async () => {
    const { client } = await organizer();
    const form = browserForm(new File([PNG_1X1], "a.png", { type: "image/png" }));
    const created = await client.request("POST", "/api/organizer/events/create/", {
      form,
      schema: EditEventSchema,
    });
    const oldKey = new URL(created.body.poster_image ?? "").pathname.replace("/media/", "");
    const patch = new FormData();
    patch.append("poster_image", new File([PNG_1X1], "b.png", { type: "image/png" }));
    const res = await client.request("PATCH", `/api/organizer/events/${created.body.id}/edit/`, {
      form: patch,
      schema: EditEventSchema,
    });
    expect(res.status).toBe(200);
    expect(res.body.poster_image).not.toBe(created.body.poster_image);
    expect(await env.MEDIA.get(oldKey)).toBeNull();

    const path = `/api/organizer/events/${created.body.id}/edit/`;
    expect((await client.patch(path, { end_datetime: "2000-01-01T00:00:00Z" })).status).toBe(400);
    expect(
      (
        await client.patch(path, {
          tiers: [{ id: crypto.randomUUID(), name: "X", price: 1, quantity_allocated: 1 }],
        })
      ).status,
    ).toBe(400);
    expect((await client.patch(path, { is_private: "maybe" })).status).toBe(400);
  });
});

describe("DELETE /api/organizer/events/{id}/edit/", () => {
  it("deletes an event without sales, its tiers and its poster", async () => {
    const { client } = await organizer();
    const created = await client.request("POST", "/api/organizer/events/create/", {
      form: browserForm(new File([PNG_1X1], "a.png", { type: "image/png" })),
      schema: EditEventSchema,
    });
    const key = new URL(created.body.poster_image ?? "").pathname.replace("/media/", "");
    const res = await client.request("DELETE", `/api/organizer/events/${created.body.id}/edit/`);
    expect(res.status).toBe(204);
    expect(await countRows("events", "id = ?", created.body.id)).toBe(0);
    expect(await countRows("tiers", "event_id = ?", created.body.id)).toBe(0);
    expect(await env.MEDIA.get(key)).toBeNull();
  });

  it("cancels an event with sales: tickets cancelled, paid orders listed for refund, buyers emailed", async () => {
    const { client, user } = await organizer();
    const created = await client.post("/api/organizer/events/create/", eventJson(), {
      schema: EditEventSchema,
    });
    const tier = created.body.tiers[0];
    if (!tier) throw new Error("no tier");
    const buyer = await registerUser(new TestClient());
    const orderId = crypto.randomUUID();
    const reference = `TS-${uniqueName("").slice(0, 6).toUpperCase()}`;
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO orders (id, reference, user_id, event_id, tier_id, quantity, unit_price, amount, buyer_email, phone_number, status, mpesa_receipt_number) VALUES (?, ?, ?, ?, ?, 2, 1500, 3000, ?, '254712345678', 'COMPLETED', ?)",
      ).bind(orderId, reference, buyer.id, created.body.id, tier.id, buyer.email, `R${orderId.slice(0, 9)}`),
      env.DB.prepare(
        "INSERT INTO tickets (id, order_id, event_id, tier_id, owner_id, seat_index, qr_code_hash, ticket_hash, signing_key_id) VALUES (?, ?, ?, ?, ?, 0, 'x', ?, 'k1'), (?, ?, ?, ?, ?, 1, 'y', ?, 'k1')",
      ).bind(
        crypto.randomUUID(),
        orderId,
        created.body.id,
        tier.id,
        buyer.id,
        crypto.randomUUID(),
        crypto.randomUUID(),
        orderId,
        created.body.id,
        tier.id,
        buyer.id,
        crypto.randomUUID(),
      ),
      env.DB.prepare("UPDATE tiers SET quantity_sold = 2 WHERE id = ?").bind(tier.id),
    ]);

    const res = await client.request("DELETE", `/api/organizer/events/${created.body.id}/edit/`, {
      schema: EventCancelledSchema,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe("CANCELLED");
    expect(res.body.tickets_cancelled).toBe(2);
    expect(res.body.orders_to_refund).toEqual([expect.objectContaining({ order_id: orderId, amount: 3000 })]);
    expect(await countRows("tickets", "order_id = ? AND status = 'CANCELLED'", orderId)).toBe(2);
    expect(await countRows("orders", "id = ? AND refund_status = 'PENDING'", orderId)).toBe(1);
    // The buyers' emails come from the queue (a page per job), not from the request; a
    // redelivered job sends none twice.
    const mailJob = { type: "event_cancelled_mail", eventId: created.body.id } as const;
    await runDeliveryConsumer([mailJob], {});
    await runDeliveryConsumer([mailJob], {});
    expect(await countRows("mail_log", "kind = 'event_cancelled' AND to_email = ?", buyer.email)).toBe(1);

    // Sales are closed at the tier's object; the event can no longer be edited.
    const stub = env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier:${tier.id}`));
    expect((await stub.reserve("late", 1, 60_000)).ok).toBe(false);
    expect(
      (await client.patch(`/api/organizer/events/${created.body.id}/edit/`, { title: "x" })).status,
    ).toBe(400);
    expect(user.id).toBeTruthy();
  });
});
