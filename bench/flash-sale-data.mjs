/**
 * The flash-sale benchmark's data: one organizer, one published upcoming event with ONE
 * paid tier (the sale), and the buyers. Rows match migrations/*.sql (UUID ids, epoch-ms
 * times, 0/1 booleans, whole-shilling prices).
 *
 * A second event with a large "probe" tier is seeded too. The sale never touches it: it is
 * used only before the sale to warm the purchase code path up (isolate, Daraja token) and
 * after it for one-at-a-time probes that show what each kind of request costs unloaded.
 */
import { randomUUID } from "node:crypto";
import { insertMany, organizerRow } from "./seed-rows.mjs";

const DAY = 24 * 3_600_000;

/**
 * @param {{ seats: number, price: number, maxPerOrder: number, now?: number }} options
 */
export function buildFlashSaleData({ seats, price, maxPerOrder, now = Date.now() }) {
  const organizer = organizerRow({
    id: randomUUID(),
    username: "flash_sale_organizer",
    email: "flash-sale-organizer@ticketsafi.local",
    firstName: "Flash",
    lastName: "Organizer",
    now,
  });
  const start = Math.floor((now + 30 * DAY) / 3_600_000) * 3_600_000;
  const event = (title, description) => ({
    id: randomUUID(),
    organizer_id: organizer.id,
    store_id: null,
    title,
    description,
    category: "CONCERT",
    location_name: "Kasarani Stadium, Nairobi",
    start_datetime: start,
    end_datetime: start + 6 * 3_600_000,
    poster_key: null,
    is_published: true,
    is_private: false,
    status: "ACTIVE",
    lowest_price: price,
    highest_price: price,
    created_at: now,
    updated_at: now,
  });
  const saleEvent = event("Flash Sale Live", "The flash-sale benchmark's event: one tier, few seats.");
  const probeEvent = event("Flash Sale Probe", "Warm-up and one-at-a-time probes; not part of the sale.");
  const tier = (eventId, name, allocation) => ({
    id: randomUUID(),
    event_id: eventId,
    name,
    description: "General admission.",
    price,
    quantity_allocated: allocation,
    quantity_sold: 0,
    quantity_held: 0,
    max_per_order: maxPerOrder,
    max_per_buyer: null,
    sales_start: now - 3_600_000,
    sales_end: null,
    position: 0,
    created_at: now,
    updated_at: now,
  });
  const saleTier = tier(saleEvent.id, "Regular", seats);
  const probeTier = tier(probeEvent.id, "Probe", 1_000_000);
  // Issue #12 (b): three tiers of `seats` each, every buyer taking one seat of each in ONE order.
  const multiEvent = event("Flash Sale Three Tiers", "Orders of three tiers at once (issue 12, bench b).");
  const multiTiers = ["Early", "Regular", "VIP"].map((name, position) => ({
    ...tier(multiEvent.id, name, seats),
    position,
  }));
  // Issue #12 (a): the same sale with a promo code every buyer applies, max_uses 100.
  const promoEvent = event(
    "Flash Sale Promo",
    "Every buyer applies one code of 100 uses (issue 12, bench a).",
  );
  const promoTier = tier(promoEvent.id, "Regular", seats);
  const promoCode = {
    id: randomUUID(),
    event_id: promoEvent.id,
    code: "FLASH100",
    discount_type: "PERCENT",
    value: 20,
    all_tiers: true,
    max_uses: 100,
    max_uses_per_buyer: null,
    valid_from: null,
    valid_until: null,
    is_active: true,
    created_at: now,
    updated_at: now,
  };
  // Issue #12 (c): buyers sharing phones against max_per_buyer 2.
  const limitEvent = event(
    "Flash Sale Buyer Limit",
    "Many buyers on few phones, max 2 per buyer (issue 12, bench c).",
  );
  const limitTier = { ...tier(limitEvent.id, "Regular", seats), max_per_buyer: 2 };
  const sql = [
    `-- flash-sale benchmark data, ${new Date(now).toISOString()}`,
    insertMany("users", [organizer]),
    insertMany("events", [saleEvent, probeEvent, multiEvent, promoEvent, limitEvent]),
    insertMany("tiers", [saleTier, probeTier, ...multiTiers, promoTier, limitTier]),
    insertMany("promo_codes", [promoCode]),
    "",
  ].join("\n");
  return {
    organizer,
    saleEvent,
    saleTier,
    probeEvent,
    probeTier,
    multiEvent,
    multiTiers,
    promoEvent,
    promoTier,
    promoCode,
    limitEvent,
    limitTier,
    sql,
  };
}

const FIRST_NAMES = [
  "Amina",
  "Baraka",
  "Chebet",
  "Dalmas",
  "Esther",
  "Faith",
  "Gitau",
  "Halima",
  "Imani",
  "Jabali",
  "Kamau",
  "Lulu",
  "Makena",
  "Njeri",
  "Otieno",
  "Pendo",
  "Qadir",
  "Rehema",
  "Sifa",
  "Tumaini",
  "Umi",
  "Wanjiku",
  "Yusuf",
  "Zawadi",
  "Akinyi",
  "Brian",
  "Cynthia",
  "Dennis",
  "Eunice",
  "Felix",
  "Grace",
  "Hassan",
  "Ivy",
  "Joseph",
  "Kerubo",
  "Lydia",
  "Mercy",
  "Nelson",
  "Olive",
  "Peter",
];
const LAST_NAMES = [
  "Mwangi",
  "Odhiambo",
  "Wanjiru",
  "Kipchoge",
  "Achieng",
  "Mutua",
  "Njoroge",
  "Omondi",
  "Cheruiyot",
  "Wambui",
  "Kariuki",
  "Onyango",
  "Mohamed",
  "Nyambura",
  "Kiprono",
  "Atieno",
  "Maina",
  "Ochieng",
  "Jeptoo",
  "Mugo",
  "Kamau",
  "Barasa",
  "Nduta",
  "Wafula",
  "Kimani",
  "Auma",
  "Rotich",
  "Gathoni",
  "Owino",
  "Chege",
  "Waweru",
  "Adhiambo",
  "Langat",
  "Karanja",
  "Nekesa",
  "Ouma",
  "Kirui",
  "Wairimu",
  "Muriuki",
  "Awuor",
  "Kibet",
  "Mumbi",
  "Okoth",
  "Wekesa",
  "Koech",
  "Njeri",
  "Simiyu",
  "Ruto",
  "Moraa",
  "Kilonzo",
];

/**
 * Buyer `i`: a distinct name (first × last name, then a number), email and phone
 * (`07XXXXXXXX` as a person types it; the API stores 2547XXXXXXXX).
 * @param {number} i
 * @param {string} kind "sale", "multi" (the three-tier sale), "promo" (bench a), "limit"
 *   (bench c; its phones are shared, see buyer-limit.mjs) or "probe"
 */
export function buyer(i, kind = "sale") {
  const combos = FIRST_NAMES.length * LAST_NAMES.length;
  const first = FIRST_NAMES[i % FIRST_NAMES.length];
  const last = LAST_NAMES[Math.floor(i / FIRST_NAMES.length) % LAST_NAMES.length];
  const round = Math.floor(i / combos);
  const name = `${first} ${last}${round > 0 ? ` ${round + 1}` : ""}`;
  const local = `${first}.${last}${round > 0 ? round + 1 : ""}`.toLowerCase();
  // 0711000000.. for the sale, 0722… for the three-tier sale, 0733… promo, 0744… buyer
  // limit, 0799000000.. for the probes: distinct numbers, never reused across phases.
  const prefix = { sale: "11", multi: "22", promo: "33", limit: "44" }[kind] ?? "99";
  const phone = `07${prefix}${String(i).padStart(6, "0")}`;
  return {
    name,
    email: `${local}.${kind}${i}@flash-sale.bench`,
    phone,
    normalizedPhone: `254${phone.slice(1)}`,
  };
}
