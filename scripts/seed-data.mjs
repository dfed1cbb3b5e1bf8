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
 * Run `node scripts/seed-data.mjs > seed.sql` to see the SQL without touching a database.
 */
import { pbkdf2Sync, randomBytes, randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";

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
 * }} [options] `images`: R2 keys already uploaded, posters by event title.
 */
export function buildSeedSql({ now = Date.now(), password = DEMO_PASSWORD, images = {} } = {}) {
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
  return `${lines.join("\n")}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(buildSeedSql());
}
