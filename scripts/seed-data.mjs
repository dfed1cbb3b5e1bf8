/**
 * Demo data for local development (`npm run dev` seeds it into an empty local D1).
 *
 * `buildSeedSql()` returns plain SQL for `wrangler d1 execute DB --local --file`. It matches
 * migrations/0000_init.sql: UUID ids, epoch-millisecond times, 0/1 booleans, whole-shilling
 * integer prices. Passwords are hashed exactly as src/lib/passwords.ts does, so the demo
 * accounts log in through the real `POST /api/auth/login/`.
 *
 * Every statement is safe to run against a database that already holds the demo rows: users,
 * the invitation code and the store are `INSERT OR IGNORE` on their unique keys, everything
 * else resolves its parents by natural key (username, slug, title) and skips rows that
 * already exist, so a re-run never duplicates data or breaks a foreign key.
 *
 * Posters and the store logo are images in the local R2 bucket: `npm run dev` draws them
 * (scripts/demo-images.mjs), uploads them, and passes their keys in as `images`; without
 * `images` the rows have no pictures (poster_key / logo_key NULL).
 *
 * The demo organizer's wallet (contract §17) is seeded too: activated, verified (payout number
 * DEMO_PAYOUT_PHONE, which the M-Pesa simulator pays), with one finished event whose paid
 * orders, tickets and SALE (and FEE) entries are written exactly as settlement writes them,
 * and one completed payout. See `demoWallet` below.
 *
 * Run `node scripts/seed-data.mjs > seed.sql` to see the SQL without touching a database.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  pbkdf2Sync,
  randomBytes,
  randomUUID,
  sign,
} from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

/** One password for every demo account. Local development only. */
export const DEMO_PASSWORD = "TicketSafi-Demo-2026";
export const DEMO_INVITATION_CODE = "TICKETSAFI-DEMO";
export const DEMO_STORE_SLUG = "nairobi-nights";

export const DEMO_ACCOUNTS = [
  {
    key: "organizer",
    username: "demo_organizer",
    email: "organizer@ticketsafi.local",
    role: "ORGANIZER",
    firstName: "Wanjiru",
    lastName: "Kamau",
  },
  {
    key: "fan",
    username: "demo_fan",
    email: "fan@ticketsafi.local",
    role: "ATTENDEE",
    firstName: "Brian",
    lastName: "Otieno",
  },
  {
    key: "scanner",
    username: "demo_scanner",
    email: "scanner@ticketsafi.local",
    role: "SCANNER",
    firstName: "Juma",
    lastName: "Mwangi",
    /** Gate staff of the demo organizer (users.organizer_id). */
    organizer: "demo_organizer",
  },
];

// Same parameters as src/lib/passwords.ts: PBKDF2-SHA256, 100,000 iterations, 16-byte salt,
// 32-byte key, base64url without padding (jose's base64url = Node's "base64url").
const PBKDF2_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** A password hash in the app's versioned format `pbkdf2_sha256$<iter>$<salt>$<hash>`. */
export function hashPassword(password) {
  const salt = randomBytes(SALT_BYTES);
  const hash = pbkdf2Sync(password, salt, PBKDF2_ITERATIONS, KEY_BYTES, "sha256");
  return `pbkdf2_sha256$${PBKDF2_ITERATIONS}$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

/** A SQL literal: strings quoted with '' escaping, integers as-is, booleans 0/1, null NULL. */
export function sqlValue(value) {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`Not an integer for SQL: ${value}`);
    return String(value);
  }
  if (typeof value === "string") {
    if (value.includes("\0")) throw new Error("NUL character in a SQL string");
    return `'${value.replaceAll("'", "''")}'`;
  }
  throw new Error(`Unsupported SQL value: ${typeof value}`);
}

const HOUR = 60 * 60 * 1000;
const NAIROBI_OFFSET_HOURS = 3; // Africa/Nairobi is UTC+3 all year (no DST).

/** Epoch ms of `hour:minute` Nairobi time, `days` days after today's Nairobi date. */
export function nairobiTime(now, days, hour, minute = 0) {
  const nairobi = new Date(now + NAIROBI_OFFSET_HOURS * HOUR);
  return Date.UTC(
    nairobi.getUTCFullYear(),
    nairobi.getUTCMonth(),
    nairobi.getUTCDate() + days,
    hour - NAIROBI_OFFSET_HOURS,
    minute,
  );
}

/**
 * The demo catalogue. Prices are whole shillings; `inStore` events belong to the
 * `nairobi-nights` store, the others to no store. One tier is free (price 0).
 */
function demoEvents(now) {
  return [
    {
      title: "Nairobi Nights Live: Benga to Afrobeats",
      category: "CONCERT",
      location: "Carnivore Grounds, Langata Road, Nairobi",
      description:
        "Six live bands trace Kenyan pop from 1970s benga to today's afrobeats, with a full sound system and food court.",
      start: nairobiTime(now, 10, 18),
      end: nairobiTime(now, 10, 23, 30),
      inStore: true,
      tiers: [
        { name: "Regular", description: "General admission.", price: 1500, quantity: 800 },
        {
          name: "VIP",
          description: "Raised deck, fast-track entry.",
          price: 4000,
          quantity: 150,
          maxPerOrder: 6,
        },
        {
          name: "VVIP",
          description: "Table for the night, one drink included.",
          price: 8000,
          quantity: 40,
          maxPerOrder: 4,
        },
      ],
    },
    {
      title: "Koroga Sounds Festival",
      category: "FESTIVAL",
      location: "Ngong Racecourse, Nairobi",
      description: "Two days of East African music, street food and art installations in the open air.",
      start: nairobiTime(now, 24, 12),
      end: nairobiTime(now, 25, 23),
      inStore: true,
      tiers: [
        { name: "Day Pass", description: "One day, Saturday or Sunday.", price: 2500, quantity: 3000 },
        { name: "Weekend Pass", description: "Both days.", price: 4500, quantity: 2000 },
        {
          name: "VIP Weekend",
          description: "Both days, VIP area and lounge.",
          price: 9500,
          quantity: 250,
          maxPerOrder: 4,
        },
      ],
    },
    {
      title: "Westlands Rooftop Amapiano Night",
      category: "NIGHTLIFE",
      location: "The Alchemist, Parklands Road, Westlands, Nairobi",
      description: "Amapiano and gqom till late on the rooftop. 18+ with ID.",
      start: nairobiTime(now, 5, 21),
      end: nairobiTime(now, 6, 3),
      inStore: true,
      tiers: [
        { name: "Advance", description: "Cheaper than at the gate.", price: 1000, quantity: 400 },
        { name: "Gate", description: "Bought closer to the night.", price: 1500, quantity: 200 },
      ],
    },
    {
      title: "Mama Mboga: A Nairobi Comedy",
      category: "THEATRE",
      location: "Kenya National Theatre, Harry Thuku Road, Nairobi",
      description:
        "A market-stall owner takes on a supermarket chain in this Sheng-and-English comedy. Runs about two hours.",
      start: nairobiTime(now, 14, 19),
      end: nairobiTime(now, 14, 21, 30),
      inStore: false,
      tiers: [
        { name: "Student", description: "Bring a valid student ID.", price: 800, quantity: 100 },
        { name: "Regular", description: "Stalls.", price: 1200, quantity: 250 },
        { name: "Premium", description: "Front rows.", price: 2500, quantity: 50, maxPerOrder: 6 },
      ],
    },
    {
      title: "Coast Beach Volleyball Open",
      category: "SPORTS",
      location: "Pirates Beach, Bamburi, Mombasa",
      description:
        "Sixteen pairs from across the coast compete for the Open title. Finals on Sunday afternoon.",
      start: nairobiTime(now, 17, 9),
      end: nairobiTime(now, 17, 18),
      inStore: false,
      tiers: [
        {
          name: "Beach Spectator",
          description: "Free entry to the public stands.",
          price: 0,
          quantity: 500,
          maxPerOrder: 4,
        },
        { name: "Courtside", description: "Reserved seat by the centre court.", price: 500, quantity: 120 },
      ],
    },
    {
      title: "Kisumu Lakeside Art Walk",
      category: "ARTS",
      location: "Kisumu Museum, Kisumu",
      description:
        "A guided walk through studios and galleries by Lake Victoria, ending with a sunset exhibition.",
      start: nairobiTime(now, 31, 15),
      end: nairobiTime(now, 31, 19),
      inStore: false,
      tiers: [
        { name: "Walk", description: "Guided walk and exhibition.", price: 300, quantity: 150 },
        {
          name: "Walk + Workshop",
          description: "Adds a two-hour print-making workshop.",
          price: 1500,
          quantity: 30,
          maxPerOrder: 4,
        },
      ],
    },
  ];
}

/** The demo organizer's payout number: an ordinary Safaricom number, which the simulator pays (§13.8). */
export const DEMO_PAYOUT_PHONE = "254712345678";

const DAY = 24 * HOUR;

/**
 * The demo organizer's money (contract §17): one event that ended 12 days ago (longer than
 * PAYOUT_HOLD_DAYS, so its proceeds are available), not in the store and so not in the
 * public listing (which shows events that have not ended), its paid orders (one by demo_fan,
 * two by guests), and one withdrawal that M-Pesa completed. Times are days before `now`.
 */
function demoWallet(now) {
  return {
    event: {
      title: "Arboretum Jazz Evening",
      category: "CONCERT",
      location: "Nairobi Arboretum, State House Road, Nairobi",
      description:
        "A quartet and a big band under the trees, with a picnic lawn and food trucks. Gates at 4 pm.",
      start: nairobiTime(now, -12, 17),
      end: nairobiTime(now, -12, 22),
      tiers: [
        { name: "Lawn", description: "Bring a blanket.", price: 1200, quantity: 300 },
        {
          name: "VIP",
          description: "Front lawn, chairs and a picnic hamper.",
          price: 3500,
          quantity: 60,
          maxPerOrder: 6,
        },
      ],
    },
    orders: [
      {
        buyer: { account: "demo_fan" },
        phone: "254711000222",
        lines: [{ tier: "Lawn", quantity: 2 }],
        paidAt: nairobiTime(now, -20, 10, 14),
      },
      {
        buyer: {
          guest: { firstName: "Achieng", lastName: "Odhiambo", email: "achieng.odhiambo@example.com" },
        },
        phone: "254722000333",
        lines: [
          { tier: "VIP", quantity: 1 },
          { tier: "Lawn", quantity: 2 },
        ],
        paidAt: nairobiTime(now, -16, 20, 5),
      },
      {
        buyer: { guest: { firstName: "Kevin", lastName: "Mutua", email: "kevin.mutua@example.com" } },
        phone: "254733000444",
        lines: [{ tier: "VIP", quantity: 2 }],
        paidAt: nairobiTime(now, -13, 12, 40),
      },
    ],
    payout: { amount: 5000, at: nairobiTime(now, -6, 11, 20) },
    activatedAt: now - 30 * DAY,
  };
}

/** What the demo wallet holds under a fee (basis points): for the README and the dev banner. */
export function demoWalletSummary({ now = Date.now(), feeBasisPoints = 0, holdDays = 2 } = {}) {
  const { event, orders, payout } = demoWallet(now);
  const price = (name) => event.tiers.find((t) => t.name === name).price;
  const amounts = orders.map((o) => o.lines.reduce((sum, l) => sum + price(l.tier) * l.quantity, 0));
  const sales = amounts.reduce((a, b) => a + b, 0);
  const fees = amounts.reduce((sum, a) => sum + Math.floor((a * feeBasisPoints) / 10_000), 0);
  // The withdrawal only if the organizer's ledger object would have allowed it at its time:
  // the proceeds available by then (event end + hold) and at least its amount after fees.
  const withdrawn = event.end + holdDays * DAY <= payout.at && sales - fees >= payout.amount;
  const payouts = withdrawn ? payout.amount : 0;
  const available = event.end + holdDays * DAY <= now ? sales - fees - payouts : -payouts;
  return { sales, fees, payouts, available };
}

const RECEIPT_FIRST = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const RECEIPT_REST = `${RECEIPT_FIRST}0123456789`;
const ORDER_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"; // checkout/initiate.ts
const PAYOUT_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"; // inventory/organizer-ledger.ts

function randomFrom(alphabet, length) {
  return Array.from(randomBytes(length), (b) => alphabet[b % alphabet.length]).join("");
}

/** `YYYYMMDDHHmmss` in Nairobi, as Daraja stamps TransactionDate. */
function nairobiStamp(epochMs) {
  return new Date(epochMs + NAIROBI_OFFSET_HOURS * HOUR).toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** The development ticket key (.dev.vars.example), when the caller has none. */
function defaultTicketSigningKey() {
  const example = readFileSync(fileURLToPath(new URL("../.dev.vars.example", import.meta.url)), "utf8");
  const match = /^\s*TICKET_SIGNING_KEY\s*=\s*"?([^"\n]*)"?/m.exec(example);
  if (!match?.[1]) throw new Error("No TICKET_SIGNING_KEY in .dev.vars.example");
  return match[1];
}

/**
 * Signs ticket QR codes exactly as src/lib/ticket-signing.ts does: a compact JWS, EdDSA, `kid`
 * = the first 16 characters of the key's RFC 7638 thumbprint, payload `{t, e, r, i}`.
 */
function ticketSigner(secret) {
  const body = secret.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, "").replace(/\s+/g, "");
  const privateKey = createPrivateKey({ key: Buffer.from(body, "base64"), format: "der", type: "pkcs8" });
  const { x } = createPublicKey(privateKey).export({ format: "jwk" });
  const kid = createHash("sha256")
    .update(JSON.stringify({ crv: "Ed25519", kty: "OKP", x }))
    .digest("base64url")
    .slice(0, 16);
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return {
    kid,
    sign(claims, nowMs) {
      const input = `${part({ alg: "EdDSA", kid })}.${part({ t: claims.ticketId, e: claims.eventId, r: claims.tierId, i: Math.floor(nowMs / 1000) })}`;
      return `${input}.${sign(null, Buffer.from(input), privateKey).toString("base64url")}`;
    },
  };
}

/** Title and category of each demo event, in seeding order (for drawing their posters). */
export function demoEventSummaries() {
  return demoEvents(Date.now()).map(({ title, category }) => ({ title, category }));
}

function insert(table, row, { orIgnore = false } = {}) {
  const columns = Object.keys(row);
  return `INSERT${orIgnore ? " OR IGNORE" : ""} INTO ${table} (${columns.join(", ")}) VALUES (${columns
    .map((c) => sqlValue(row[c]))
    .join(", ")});`;
}

/** `INSERT ... SELECT <values> WHERE <condition>`: a row that is only added when it makes sense. */
function insertWhere(table, row, condition) {
  const columns = Object.keys(row);
  const values = columns.map((c) => (row[c]?.sql ? `(${row[c].sql})` : sqlValue(row[c])));
  return `INSERT OR IGNORE INTO ${table} (${columns.join(", ")}) SELECT ${values.join(", ")} WHERE ${condition};`;
}

const userIdSql = (username) =>
  `SELECT id FROM users WHERE lower(username) = ${sqlValue(username.toLowerCase())}`;
const storeIdSql = (slug) => `SELECT id FROM stores WHERE slug = ${sqlValue(slug)}`;

/**
 * The demo data as one SQL script.
 * @param {{
 *   now?: number,
 *   password?: string,
 *   images?: { posters?: Record<string, string>, storeLogo?: string },
 *   ticketSigningKey?: string,
 *   feeBasisPoints?: number,
 *   holdDays?: number,
 * }} [options] `images`: R2 keys already uploaded, posters by event title.
 *   `ticketSigningKey`: TICKET_SIGNING_KEY of the server that will read the data (default:
 *   the one in .dev.vars.example); `feeBasisPoints` / `holdDays`: its PLATFORM_FEE_PERCENT
 *   (× 100) and PAYOUT_HOLD_DAYS, so the ledger is what settlement would have written.
 */
export function buildSeedSql({
  now = Date.now(),
  password = DEMO_PASSWORD,
  images = {},
  ticketSigningKey,
  feeBasisPoints = 0,
  holdDays = 2,
} = {}) {
  const lines = [
    `-- TicketSafi demo data, generated ${new Date(now).toISOString()} by scripts/seed-data.mjs`,
  ];

  lines.push("", "-- Accounts (all verified; one shared password, see README).");
  for (const account of DEMO_ACCOUNTS) {
    const row = {
      id: randomUUID(),
      username: account.username,
      email: account.email,
      password_hash: hashPassword(password),
      role: account.role,
      first_name: account.firstName,
      last_name: account.lastName,
      is_verified: true,
      is_guest: false,
      is_active: true,
      organizer_id: account.organizer ? { sql: userIdSql(account.organizer) } : null,
      password_changed_at: now,
      created_at: now,
      updated_at: now,
    };
    // The scanner points at its organizer, which the statement before created (or found).
    lines.push(
      account.organizer
        ? insertWhere("users", row, `EXISTS (${userIdSql(account.organizer)})`)
        : insert("users", row, { orIgnore: true }),
    );
  }

  lines.push("", "-- Organizer invitation code: active, unlimited uses, no expiry.");
  lines.push(
    insert(
      "invitation_codes",
      {
        id: randomUUID(),
        code: DEMO_INVITATION_CODE,
        note: "Demo data (scripts/seed-data.mjs)",
        is_active: true,
        max_uses: null,
        use_count: 0,
        expires_at: null,
        created_at: now,
      },
      { orIgnore: true },
    ),
  );

  lines.push("", "-- The organizer's published store.");
  lines.push(
    insertWhere(
      "stores",
      {
        id: randomUUID(),
        organizer_id: { sql: userIdSql("demo_organizer") },
        name: "Nairobi Nights",
        slug: DEMO_STORE_SLUG,
        description:
          "Concerts, festivals and late nights across Nairobi, curated by the TicketSafi demo organizer.",
        logo_key: images.storeLogo ?? null,
        instagram_link: "",
        website_link: "https://nairobi-nights.example",
        is_published: true,
        created_at: now,
        updated_at: now,
      },
      `EXISTS (${userIdSql("demo_organizer")})`,
    ),
  );

  lines.push("", "-- Published, public, upcoming events with their tiers.");
  for (const event of demoEvents(now)) {
    const eventId = randomUUID();
    const prices = event.tiers.map((t) => t.price);
    lines.push(
      "",
      insertWhere(
        "events",
        {
          id: eventId,
          organizer_id: { sql: userIdSql("demo_organizer") },
          store_id: event.inStore ? { sql: storeIdSql(DEMO_STORE_SLUG) } : null,
          title: event.title,
          description: event.description,
          category: event.category,
          location_name: event.location,
          start_datetime: event.start,
          end_datetime: event.end,
          poster_key: images.posters?.[event.title] ?? null,
          is_published: true,
          is_private: false,
          status: "ACTIVE",
          lowest_price: Math.min(...prices),
          highest_price: Math.max(...prices),
          created_at: now,
          updated_at: now,
        },
        // Skip an event the organizer already has (same title): re-running adds nothing.
        `EXISTS (${userIdSql("demo_organizer")}) AND NOT EXISTS (SELECT 1 FROM events WHERE title = ${sqlValue(
          event.title,
        )} AND organizer_id = (${userIdSql("demo_organizer")}))`,
      ),
    );
    event.tiers.forEach((tier, position) => {
      lines.push(
        insertWhere(
          "tiers",
          {
            id: randomUUID(),
            event_id: eventId,
            name: tier.name,
            description: tier.description,
            price: tier.price,
            quantity_allocated: tier.quantity,
            quantity_sold: 0,
            quantity_held: 0,
            max_per_order: tier.maxPerOrder ?? 10,
            sales_start: null,
            sales_end: null,
            position,
            created_at: now,
            updated_at: now,
          },
          // Only for the event inserted just above (it was skipped if it already existed).
          `EXISTS (SELECT 1 FROM events WHERE id = ${sqlValue(eventId)})`,
        ),
      );
    });
  }
  lines.push(...walletSql({ now, ticketSigningKey, feeBasisPoints, holdMs: holdDays * DAY }));
  return `${lines.join("\n")}\n`;
}

/**
 * The demo organizer's wallet, finished event, orders, tickets, ledger and payout (see
 * `demoWallet`). Rows are written in the state the real code leaves them in: orders COMPLETED
 * with the simulator's kind of Daraja fields, tickets signed like ticket-issuance.ts, the
 * SALE/FEE entries by the very statements of inventory/ledger-store.ts `saleEntryStatements`,
 * the payout COMPLETED with its b2c_requests attempt and its PAYOUT entry. Everything but the
 * wallet's activation depends on the event having been inserted by this script run.
 */
function walletSql({ now, ticketSigningKey, feeBasisPoints, holdMs }) {
  const { event, orders, payout, activatedAt } = demoWallet(now);
  const signer = ticketSigner(ticketSigningKey || defaultTicketSigningKey());
  const organizerId = { sql: userIdSql("demo_organizer") };
  const eventId = randomUUID();
  const inserted = `EXISTS (SELECT 1 FROM events WHERE id = ${sqlValue(eventId)})`;
  const out = [
    "",
    "-- The demo organizer's wallet (contract §17): activated, verified, payouts to DEMO_PAYOUT_PHONE.",
    `UPDATE users SET wallet_id = ${sqlValue(randomUUID())}, wallet_activated_at = ${sqlValue(activatedAt)}, is_kyc_verified = 1, payout_phone = ${sqlValue(DEMO_PAYOUT_PHONE)}, updated_at = ${sqlValue(now)} WHERE lower(username) = 'demo_organizer' AND wallet_id IS NULL;`,
    "",
    "-- A finished event (not listed: it has ended) with paid orders, tickets and SALE entries.",
    insertWhere(
      "events",
      {
        id: eventId,
        organizer_id: organizerId,
        store_id: null,
        title: event.title,
        description: event.description,
        category: event.category,
        location_name: event.location,
        start_datetime: event.start,
        end_datetime: event.end,
        poster_key: null,
        is_published: true,
        is_private: false,
        status: "ACTIVE",
        lowest_price: Math.min(...event.tiers.map((t) => t.price)),
        highest_price: Math.max(...event.tiers.map((t) => t.price)),
        created_at: event.start - 40 * DAY,
        updated_at: event.start - 40 * DAY,
      },
      `EXISTS (${userIdSql("demo_organizer")}) AND NOT EXISTS (SELECT 1 FROM events WHERE title = ${sqlValue(
        event.title,
      )} AND organizer_id = (${userIdSql("demo_organizer")}))`,
    ),
  ];
  const tiers = new Map(
    event.tiers.map((tier, position) => [tier.name, { ...tier, id: randomUUID(), position, sold: 0 }]),
  );
  for (const order of orders) {
    for (const line of order.lines) tiers.get(line.tier).sold += line.quantity;
  }
  for (const tier of tiers.values()) {
    out.push(
      insertWhere(
        "tiers",
        {
          id: tier.id,
          event_id: eventId,
          name: tier.name,
          description: tier.description,
          price: tier.price,
          quantity_allocated: tier.quantity,
          quantity_sold: tier.sold,
          quantity_held: 0,
          max_per_order: tier.maxPerOrder ?? 10,
          sales_start: null,
          sales_end: null,
          position: tier.position,
          created_at: event.start - 40 * DAY,
          updated_at: orders.at(-1).paidAt,
        },
        inserted,
      ),
    );
  }

  for (const order of orders) {
    const account = order.buyer.account && DEMO_ACCOUNTS.find((a) => a.username === order.buyer.account);
    const person = account ?? order.buyer.guest;
    const buyerName = `${person.firstName} ${person.lastName}`;
    const buyerId = {
      sql: `SELECT id FROM users WHERE lower(email) = ${sqlValue(person.email.toLowerCase())}`,
    };
    const orderId = randomUUID();
    const createdAt = order.paidAt - 40_000;
    const lines = order.lines.map((line) => ({ ...line, tier: tiers.get(line.tier) }));
    const amount = lines.reduce((sum, l) => sum + l.tier.price * l.quantity, 0);
    out.push("", `-- Order of ${buyerName}: KES ${amount}.`);
    if (!account) {
      // A guest checkout's shadow user (checkout/initiate.ts buyerFor), unless the email has one.
      out.push(
        insertWhere(
          "users",
          {
            id: randomUUID(),
            username: `guest-${randomUUID().slice(0, 12)}`,
            email: person.email,
            password_hash: null,
            role: "ATTENDEE",
            first_name: person.firstName,
            last_name: person.lastName,
            is_verified: false,
            is_guest: true,
            is_active: true,
            created_at: createdAt,
            updated_at: createdAt,
          },
          `${inserted} AND NOT EXISTS (${buyerId.sql})`,
        ),
      );
    }
    const stamp = nairobiStamp(createdAt);
    out.push(
      insertWhere(
        "orders",
        {
          id: orderId,
          reference: `TS-${randomFrom(ORDER_REFERENCE_ALPHABET, 8)}`,
          user_id: buyerId,
          event_id: eventId,
          tier_id: lines[0].tier.id,
          quantity: lines.reduce((sum, l) => sum + l.quantity, 0),
          unit_price: lines[0].tier.price,
          amount,
          buyer_name: buyerName,
          buyer_email: person.email,
          phone_number: order.phone,
          status: "COMPLETED",
          is_free: false,
          placed_as_guest: !account,
          hold_expires_at: createdAt + 300_000,
          discount: 0,
          discounted_seats: 0,
          merchant_request_id: `${randomFrom("0123456789", 5)}-${randomFrom("0123456789", 8)}-1`,
          checkout_request_id: `ws_CO_${stamp.slice(6, 8)}${stamp.slice(4, 6)}${stamp.slice(0, 4)}${stamp.slice(8)}${randomFrom("0123456789", 10)}`,
          mpesa_receipt_number: randomFrom(RECEIPT_FIRST, 1) + randomFrom(RECEIPT_REST, 9),
          result_code: 0,
          result_desc: "The service request is processed successfully.",
          paid_amount: amount,
          paid_phone: order.phone,
          transaction_date: nairobiStamp(order.paidAt),
          paid_at: order.paidAt,
          query_attempts: 0,
          delivery_status: "SENT",
          delivery_attempts: 1,
          delivered_at: order.paidAt + 5_000,
          created_at: createdAt,
          updated_at: order.paidAt + 5_000,
        },
        inserted,
      ),
    );
    let seatIndex = 0;
    lines.forEach((line, position) => {
      out.push(
        insertWhere(
          "order_items",
          {
            order_id: orderId,
            tier_id: line.tier.id,
            position,
            quantity: line.quantity,
            unit_price: line.tier.price,
            discount: 0,
            discounted_seats: 0,
          },
          inserted,
        ),
      );
      for (let seat = 0; seat < line.quantity; seat++) {
        const ticketId = randomUUID();
        const token = signer.sign({ ticketId, eventId, tierId: line.tier.id }, order.paidAt);
        out.push(
          insertWhere(
            "tickets",
            {
              id: ticketId,
              order_id: orderId,
              event_id: eventId,
              tier_id: line.tier.id,
              owner_id: buyerId,
              seat_index: seatIndex++,
              attendee_name: buyerName,
              attendee_email: person.email,
              qr_code_hash: token,
              ticket_hash: createHash("sha256").update(token).digest("hex"),
              signing_key_id: signer.kid,
              status: "ACTIVE",
              price_paid: line.tier.price,
              transfer_count: 0,
              token_version: 1,
              created_at: order.paidAt,
              updated_at: order.paidAt,
            },
            `EXISTS (SELECT 1 FROM orders WHERE id = ${sqlValue(orderId)})`,
          ),
        );
      }
    });
    // inventory/ledger-store.ts saleEntryStatements, with the settlement's time.
    out.push(
      `INSERT INTO ledger_entries (id, organizer_id, type, amount, status, reference, dedupe_key, event_id, order_id, available_at, created_at)
SELECT ${sqlValue(randomUUID())}, e.organizer_id, 'SALE', o.amount, 'COMPLETED', o.reference, 'sale:' || o.id, o.event_id, o.id, e.end_datetime + ${holdMs}, ${order.paidAt}
FROM orders o JOIN events e ON e.id = o.event_id
WHERE o.id = ${sqlValue(orderId)} AND o.status = 'COMPLETED' AND o.amount > 0
ON CONFLICT (dedupe_key) DO NOTHING;`,
    );
    if (feeBasisPoints > 0) {
      out.push(
        `INSERT INTO ledger_entries (id, organizer_id, type, amount, status, reference, dedupe_key, event_id, order_id, available_at, created_at)
SELECT ${sqlValue(randomUUID())}, e.organizer_id, 'FEE', -(CAST(o.amount * ${feeBasisPoints} AS INTEGER) / 10000), 'COMPLETED', o.reference, 'fee:' || o.id, o.event_id, o.id, e.end_datetime + ${holdMs}, ${order.paidAt}
FROM orders o JOIN events e ON e.id = o.event_id
WHERE o.id = ${sqlValue(orderId)} AND o.status = 'COMPLETED' AND CAST(o.amount * ${feeBasisPoints} AS INTEGER) / 10000 > 0
ON CONFLICT (dedupe_key) DO NOTHING;`,
      );
    }
  }

  if (demoWalletSummary({ now, feeBasisPoints, holdDays: holdMs / DAY }).payouts === 0) {
    out.push("", "-- No withdrawal: under this PAYOUT_HOLD_DAYS / PLATFORM_FEE_PERCENT it was not possible.");
    return out;
  }
  const payoutId = randomUUID();
  const attemptId = randomUUID();
  const reference = `WD-${randomFrom(PAYOUT_REFERENCE_ALPHABET, 8)}`;
  const receipt = randomFrom(RECEIPT_FIRST, 1) + randomFrom(RECEIPT_REST, 9);
  const sentAt = payout.at + 1_000;
  const paidAt = payout.at + 3_000;
  out.push(
    "",
    `-- A withdrawal of KES ${payout.amount} to DEMO_PAYOUT_PHONE that M-Pesa completed (B2C Result 0).`,
    insertWhere(
      "payouts",
      {
        id: payoutId,
        organizer_id: organizerId,
        reference,
        amount: payout.amount,
        phone: DEMO_PAYOUT_PHONE,
        status: "COMPLETED",
        b2c_request_id: attemptId,
        mpesa_receipt: receipt,
        created_at: payout.at,
        sent_at: sentAt,
        completed_at: paidAt,
        updated_at: paidAt,
      },
      inserted,
    ),
    insertWhere(
      "b2c_requests",
      {
        id: attemptId,
        purpose: "PAYOUT",
        subject_id: payoutId,
        amount: payout.amount,
        phone: DEMO_PAYOUT_PHONE,
        status: "COMPLETED",
        conversation_id: `AG_${nairobiStamp(sentAt).slice(0, 8)}_${randomBytes(10).toString("hex")}`,
        result_code: "0",
        result_desc: "The service request is processed successfully.",
        receipt,
        result_amount: payout.amount,
        created_at: payout.at,
        answered_at: sentAt,
        settled_at: paidAt,
        status_queries: 0,
      },
      `EXISTS (SELECT 1 FROM payouts WHERE id = ${sqlValue(payoutId)})`,
    ),
    // inventory/ledger-store.ts payoutEntryStatement, already settled (PENDING → COMPLETED).
    insertWhere(
      "ledger_entries",
      {
        id: randomUUID(),
        organizer_id: organizerId,
        type: "PAYOUT",
        amount: -payout.amount,
        status: "COMPLETED",
        reference,
        dedupe_key: `payout:${payoutId}`,
        payout_id: payoutId,
        created_at: payout.at,
      },
      `EXISTS (SELECT 1 FROM payouts WHERE id = ${sqlValue(payoutId)})`,
    ),
  );
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(buildSeedSql());
}
