/**
 * The listing benchmark's data set: N published, public, upcoming events with 3 tiers each,
 * one organizer and one store, as SQL files for `wrangler d1 execute DB --local --file`.
 *
 * Deterministic: the same seed gives the same titles, prices and dates (relative to `now`),
 * so two runs on two machines query the same data. Rows match migrations/0000_init.sql
 * (UUID ids, epoch-ms times, 0/1 booleans, whole-shilling prices), and events.lowest_price /
 * highest_price are the min / max of the event's tier prices, as the write paths keep them.
 * The FTS index `events_fts` is filled by the insert trigger of migrations/0001.
 */
import { insertMany, organizerRow } from "./seed-rows.mjs";

export const CATEGORIES = ["CONCERT", "FESTIVAL", "NIGHTLIFE", "THEATRE", "SPORTS", "ARTS", "OTHER"];

/** Towns and a few venues each; coastal towns get beaches. */
const TOWNS = {
  Nairobi: [
    "Carnivore Grounds",
    "KICC Amphitheatre",
    "Kenya National Theatre",
    "Uhuru Gardens",
    "Westlands Rooftop",
  ],
  Mombasa: ["Fort Jesus", "Pirates Beach, Bamburi", "Mama Ngina Waterfront", "Nyali Cinemax Grounds"],
  Kisumu: ["Kisumu Museum", "Dunga Beach", "Jomo Kenyatta Sports Ground", "Lakeside Gardens"],
  Nakuru: ["Afraha Stadium", "Lake Nakuru Lodge Grounds", "Nakuru Athletic Club"],
  Eldoret: ["Kipchoge Keino Stadium", "Eldoret Sports Club", "Boma Inn Gardens"],
  Thika: ["Thika Stadium", "Blue Post Gardens"],
  Malindi: ["Malindi Marine Park Beach", "Malindi Cultural Centre"],
  Naivasha: ["Lake Naivasha Resort", "Crescent Island Grounds", "Naivasha Sports Club"],
  Nanyuki: ["Nanyuki Sports Club", "Mount Kenya Safari Club Lawns"],
  Nyeri: ["Nyeri Golf Club", "Kamukunji Grounds"],
  Machakos: ["Kenyatta Stadium", "Machakos People's Park"],
  Kakamega: ["Bukhungu Stadium", "Kakamega Forest Edge"],
  Kericho: ["Kericho Green Stadium", "Tea Hotel Gardens"],
  Meru: ["Kinoru Stadium", "Meru Social Hall"],
  Lamu: ["Lamu Fort", "Shela Beach"],
  Diani: ["Diani Beach", "Kaskazi Beach Grounds"],
  Kilifi: ["Bofa Beach", "Kilifi Creek Gardens"],
  Narok: ["Narok Showground", "Maasai Mara Gate Camp"],
  Kitale: ["Kitale Showground", "Kitale Museum"],
  Embu: ["Embu Stadium", "Izaak Walton Inn Gardens"],
};
const TOWN_NAMES = Object.keys(TOWNS);

const GENRES = [
  "Benga",
  "Afrobeats",
  "Gospel",
  "Jazz",
  "Taarab",
  "Bongo Flava",
  "Gengetone",
  "Rhumba",
  "Reggae",
  "Ohangla",
  "Acoustic",
  "Hip-hop",
  "Amapiano",
  "Lingala",
  "Chakacha",
  "Soul",
];

const TITLES = {
  CONCERT: [
    (g, t) => `${g} Live in ${t}`,
    (g, t) => `${t} ${g} Night`,
    (g) => `An Evening of ${g}`,
    (g, t) => `${g} Unplugged: ${t} Sessions`,
  ],
  FESTIVAL: [
    (_g, t) => `${t} Food and Music Festival`,
    (_g, t) => `${t} Cultural Festival`,
    (g, t) => `${t} ${g} Festival`,
    (_g, t) => `${t} Kite and Family Festival`,
    (_g, t) => `${t} Film Festival`,
  ],
  NIGHTLIFE: [
    (g, t) => `${t} Rooftop ${g} Party`,
    (g) => `${g} Takeover`,
    (_g, t) => `Silent Disco ${t}`,
    (_g, t) => `${t} Karaoke Night`,
  ],
  THEATRE: [
    (_g, t) => `The Matatu Driver of ${t}`,
    (_g, t) => `${t} Comedy Night`,
    () => "Spoken Word and Poetry Slam",
    (_g, t) => `Mama Mboga Goes to ${t}`,
    () => "A Midsummer Night in Sheng",
  ],
  SPORTS: [
    (_g, t) => `${t} Rugby Sevens`,
    (_g, t) => `${t} City Marathon`,
    (_g, t) => `${t} Football Derby`,
    (_g, t) => `${t} Beach Volleyball Open`,
    (_g, t) => `${t} Boxing Night`,
    (_g, t) => `${t} Athletics Meet`,
  ],
  ARTS: [
    (_g, t) => `${t} Gallery Opening`,
    (_g, t) => `${t} Photography Exhibition`,
    (_g, t) => `${t} Art Walk`,
    (_g, t) => `${t} Craft and Kikoy Market`,
    () => "Pottery and Print-making Workshop",
  ],
  OTHER: [
    (_g, t) => `${t} Tech Meetup`,
    (_g, t) => `${t} Startup Pitch Night`,
    (_g, t) => `${t} Farmers Market`,
    () => "Wellness and Yoga Retreat",
    (_g, t) => `${t} Chess Open`,
  ],
};

const DESCRIPTION_OPENERS = {
  CONCERT: "Live bands and a full sound system",
  FESTIVAL: "Two stages, street food and art installations",
  NIGHTLIFE: "DJs till late, 18+ with ID",
  THEATRE: "A Sheng-and-English comedy about everyday hustle",
  SPORTS: "Teams from across the country compete for the title",
  ARTS: "Local painters, photographers and makers show new work",
  OTHER: "Talks, stalls and plenty of networking",
};
const DESCRIPTION_EXTRAS = [
  "Food court and nyama choma on site.",
  "Secure parking and M-Pesa at the gate.",
  "Family friendly until 8pm.",
  "Bring a jacket: it gets cold after sunset.",
  "Matatu drop-off at the main gate.",
  "Gates open two hours before the start.",
  "Limited seating, so arrive early.",
  "Proceeds support a community youth programme.",
];

const TIER_SETS = [
  ["Early Bird", "Regular", "VIP"],
  ["Advance", "Gate", "VIP"],
  ["Student", "Regular", "VVIP"],
  ["Regular", "VIP", "VVIP"],
  ["Day Pass", "Weekend Pass", "VIP Weekend"],
];
const FREE_TIER_NAMES = ["Free Entry", "Community", "Kids Under 12"];
const BASE_PRICES = [200, 300, 500, 800, 1000, 1200, 1500, 2000, 2500, 3000, 4000];

/** Words that occur in the data (title, description or location), for `?q=`. */
export const SEARCH_WORDS = [
  "nairobi",
  "mombasa",
  "kisumu",
  "festival",
  "jazz",
  "rugby",
  "amapiano",
  "gallery",
  "comedy",
  "benga",
  "marathon",
  "market",
  "beach",
  "karaoke",
  "gospel",
  "stadium",
];
/** `?min_price=` values, whole KES. */
export const MIN_PRICES = [0, 500, 1000, 2000, 5000];

/** mulberry32: a small, fast, seeded PRNG. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A version-4-shaped UUID from the PRNG (deterministic ids). */
function uuid(random) {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = "4";
  hex[16] = "89ab"[Math.floor(random() * 4)];
  const s = hex.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const roundTo = (value, step) => Math.max(step, Math.round(value / step) * step);

/**
 * The rows, in memory.
 * @param {{ events?: number, now?: number, seed?: number }} [options]
 */
export function generateListingData({ events: count = 10_000, now = Date.now(), seed = 20260426 } = {}) {
  const random = prng(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];

  const organizer = organizerRow({
    id: uuid(random),
    username: "bench_organizer",
    email: "bench-organizer@ticketsafi.local",
    firstName: "Bench",
    lastName: "Organizer",
    now,
  });
  const store = {
    id: uuid(random),
    organizer_id: organizer.id,
    name: "Bench Nights",
    slug: "bench-nights",
    description: "The benchmark organizer's store.",
    is_published: true,
    created_at: now,
    updated_at: now,
  };

  // Start on the hour, Nairobi time (UTC+3), from tomorrow to a year ahead.
  const today = Math.floor(now / DAY) * DAY;
  const events = [];
  const tiers = [];
  for (let i = 0; i < count; i++) {
    const category = CATEGORIES[i % CATEGORIES.length];
    const town = pick(TOWN_NAMES);
    const venue = pick(TOWNS[town]);
    const genre = pick(GENRES);
    const title = pick(TITLES[category])(genre, town);
    const extras = [pick(DESCRIPTION_EXTRAS), pick(DESCRIPTION_EXTRAS)];
    const description = `${DESCRIPTION_OPENERS[category]} at ${venue}, ${town}. ${genre} lovers welcome. ${extras[0]}${
      extras[1] === extras[0] ? "" : ` ${extras[1]}`
    }`;
    const start = today + (1 + Math.floor(random() * 365)) * DAY + (8 + Math.floor(random() * 14) - 3) * HOUR;
    const hours = category === "FESTIVAL" ? 24 + Math.floor(random() * 36) : 2 + Math.floor(random() * 8);
    const eventId = uuid(random);

    const free = random() < 0.08;
    const base = pick(BASE_PRICES);
    const names = pick(TIER_SETS);
    const prices = [
      free ? 0 : base,
      roundTo(base * (1.5 + random()), 50),
      roundTo(base * (3 + random() * 3), 100),
    ];
    prices.forEach((price, position) => {
      tiers.push({
        id: uuid(random),
        event_id: eventId,
        name: position === 0 && free ? pick(FREE_TIER_NAMES) : names[position],
        description: position === 0 ? "General admission." : position === 1 ? "Better view." : "Best seats.",
        price,
        quantity_allocated: [500, 200, 50][position] + Math.floor(random() * 500),
        quantity_sold: 0,
        quantity_held: 0,
        max_per_order: 10,
        position,
        created_at: now,
        updated_at: now,
      });
    });
    events.push({
      id: eventId,
      organizer_id: organizer.id,
      store_id: random() < 0.3 ? store.id : null,
      title,
      description,
      category,
      location_name: `${venue}, ${town}`,
      start_datetime: start,
      end_datetime: start + hours * HOUR,
      poster_key: null,
      is_published: true,
      is_private: false,
      status: "ACTIVE",
      lowest_price: Math.min(...prices),
      highest_price: Math.max(...prices),
      created_at: now,
      updated_at: now,
    });
  }
  return { organizer, store, events, tiers };
}

function* chunks(list, size) {
  for (let i = 0; i < list.length; i += size) yield list.slice(i, i + size);
}

/**
 * The data as SQL scripts, `eventsPerFile` events (with their tiers) per script. Multi-row
 * inserts of `rowsPerStatement` rows keep each statement well under D1's 100 KB limit.
 */
export function buildListingSqlFiles(data, { eventsPerFile = 2500, rowsPerStatement = 100 } = {}) {
  const tiersByEvent = new Map();
  for (const tier of data.tiers) {
    const list = tiersByEvent.get(tier.event_id) ?? [];
    list.push(tier);
    tiersByEvent.set(tier.event_id, list);
  }
  const files = [
    `-- Listing benchmark: organizer and store.\n${insertMany("users", [data.organizer])}\n${insertMany("stores", [data.store])}\n`,
  ];
  for (const events of chunks(data.events, eventsPerFile)) {
    const lines = [`-- Listing benchmark: ${events.length} events and their tiers.`];
    for (const part of chunks(events, rowsPerStatement)) lines.push(insertMany("events", part));
    const tiers = events.flatMap((event) => tiersByEvent.get(event.id) ?? []);
    for (const part of chunks(tiers, rowsPerStatement)) lines.push(insertMany("tiers", part));
    files.push(`${lines.join("\n")}\n`);
  }
  return files;
}

// ─── The Django peer's data set, in our schema (bench/peer.mjs) ─────────────────────────────

/** The word lists of ../shared/peers/django-seed/tickets/management/commands/seed.py. */
const PEER = {
  genres: [
    "Jazz",
    "Gospel",
    "Benga",
    "Gengetone",
    "Afrobeats",
    "Rhumba",
    "Reggae",
    "Amapiano",
    "Comedy",
  ].concat(["Rugby", "Football", "Poetry", "Film", "Food", "Wine", "Tech", "Art", "Drama"]),
  kinds: [
    "Night",
    "Festival",
    "Live",
    "Brunch",
    "Showcase",
    "Sessions",
    "Weekender",
    "Gala",
    "Marathon",
  ].concat(["Cup", "Expo", "Fest", "Party", "Concert", "Meetup"]),
  adjectives: ["Nairobi", "Coastal", "Sunset", "Rooftop", "Acoustic", "Electric", "Grand", "Annual"].concat([
    "Midnight",
    "Safari",
    "Lakeside",
    "Urban",
    "Classic",
    "Summer",
    "Highland",
  ]),
  venues: ["KICC, Nairobi", "Carnivore Grounds, Langata", "Uhuru Gardens", "Nyayo Stadium"].concat(
    ["The Alchemist, Westlands", "Kasarani Stadium", "Sarit Expo Centre", "Nairobi National Theatre"],
    ["Mombasa Sports Club", "Haller Park, Mombasa", "Kisumu Impala Park", "Naivasha Sopa Resort"],
    ["Two Rivers Mall", "Ngong Racecourse", "Kenya National Archives", "Michael Joseph Centre"],
  ),
  words: (
    "live music great food friends family dance night sunset stage performers artists local " +
    "international vibes tickets limited early bird vip lounge drinks culture community " +
    "experience weekend celebration sound lights dj band crowd"
  ).split(" "),
  prices: [0, 200, 300, 500, 750, 1000, 1200, 1500, 2000, 2500, 3000, 3500],
};

/**
 * The peer's seed (seed.py) in our schema: N published events titled "<adjective> <genre>
 * <kind> #i", a description of 20–45 random words, one of its 16 venues, a random category,
 * starting 1–365 days ahead (a 3-hour event: our listing shows events that have not ended),
 * and 3 tiers Regular / VIP / VVIP priced base × 1 / 2 / 4 with base from its 12 prices. The
 * same distributions, not the same rows (Python's Mersenne Twister is not reproduced), so
 * `q=jazz` matches about 1/18 of the events on both sides (the count is reported).
 * @param {{ events?: number, now?: number, seed?: number }} [options]
 */
export function generatePeerShapedData({ events: count = 10_000, now = Date.now(), seed = 42 } = {}) {
  const random = prng(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const between = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
  const organizer = organizerRow({
    id: uuid(random),
    username: "bench_organizer",
    email: "bench-organizer@ticketsafi.local",
    firstName: "Bench",
    lastName: "Organizer",
    now,
  });
  const store = {
    id: uuid(random),
    organizer_id: organizer.id,
    name: "Bench Nights",
    slug: "bench-nights",
    description: "The benchmark organizer's store.",
    is_published: true,
    created_at: now,
    updated_at: now,
  };
  const events = [];
  const tiers = [];
  for (let i = 0; i < count; i++) {
    const title = `${pick(PEER.adjectives)} ${pick(PEER.genres)} ${pick(PEER.kinds)} #${i}`;
    const words = Array.from({ length: between(20, 45) }, () => pick(PEER.words)).join(" ");
    const description = `${words[0].toUpperCase()}${words.slice(1)}.`;
    const category = pick(CATEGORIES);
    const venue = pick(PEER.venues);
    const start = now + between(1, 365) * DAY + between(0, 1439) * 60_000;
    const eventId = uuid(random);
    const base = pick(PEER.prices);
    const prices = [base, base * 2, base * 4];
    [
      ["Regular", between(100, 2000)],
      ["VIP", between(20, 300)],
      ["VVIP", between(5, 50)],
    ].forEach(([name, seats], position) => {
      tiers.push({
        id: uuid(random),
        event_id: eventId,
        name,
        description: "",
        price: prices[position],
        quantity_allocated: seats,
        quantity_sold: 0,
        quantity_held: 0,
        max_per_order: 10,
        position,
        created_at: now,
        updated_at: now,
      });
    });
    events.push({
      id: eventId,
      organizer_id: organizer.id,
      store_id: null,
      title,
      description,
      category,
      location_name: venue,
      start_datetime: start,
      end_datetime: start + 3 * HOUR,
      poster_key: null,
      is_published: true,
      is_private: false,
      status: "ACTIVE",
      lowest_price: Math.min(...prices),
      highest_price: Math.max(...prices),
      created_at: now,
      updated_at: now,
    });
  }
  return { organizer, store, events, tiers };
}
