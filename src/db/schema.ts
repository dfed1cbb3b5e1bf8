/**
 * The whole TicketSafi data model (D1 / SQLite), designed for the full API contract.
 *
 * Conventions: ids are UUID strings; times are integer epoch milliseconds (UTC) and are
 * rendered in Africa/Nairobi at the edge; money is whole Kenyan shillings as integers
 * (M-Pesa moves whole shillings, and the contract refuses cents on input); booleans are
 * 0/1 integers. Columns are snake_case.
 *
 * Seat counts live in the tier Durable Object; `tiers.quantity_sold` / `quantity_held` are
 * copies it keeps current for listings and are never decremented around it.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const USER_ROLES = ["ATTENDEE", "ORGANIZER", "SCANNER", "ADMIN"] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const EVENT_CATEGORIES = [
  "CONCERT",
  "FESTIVAL",
  "NIGHTLIFE",
  "THEATRE",
  "SPORTS",
  "ARTS",
  "OTHER",
] as const;
export type EventCategory = (typeof EVENT_CATEGORIES)[number];

/** Order lifecycle (contract §4). Only PENDING orders move, with conditional updates. */
export const ORDER_STATUSES = [
  "PENDING", // hold taken, STK push sent (or about to be)
  "COMPLETED", // paid and tickets issued
  "FAILED", // Daraja said no (cancelled, insufficient funds, timeout, ...) or the push failed
  "PAID_UNFULFILLED", // money arrived after the hold lapsed and the seats were gone: refund
  "UNDER_REVIEW", // money arrived but the amount did not match: no tickets, a human looks
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const TICKET_STATUSES = ["ACTIVE", "CHECKED_IN", "USED", "CANCELLED"] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

export const DELIVERY_STATUSES = ["PENDING", "SENT", "FAILED"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

const createdAt = () =>
  integer("created_at", { mode: "number" })
    .notNull()
    .default(sql`(CAST(unixepoch('subsec') * 1000 AS INTEGER))`);
const updatedAt = () =>
  integer("updated_at", { mode: "number" })
    .notNull()
    .default(sql`(CAST(unixepoch('subsec') * 1000 AS INTEGER))`);

// ---------------------------------------------------------------------------------------
// Accounts and sessions
// ---------------------------------------------------------------------------------------

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    username: text("username").notNull(),
    email: text("email").notNull(),
    /** Versioned PBKDF2 string, or null for shadow (guest) users and Google-only accounts. */
    passwordHash: text("password_hash"),
    role: text("role", { enum: USER_ROLES }).notNull().default("ATTENDEE"),
    firstName: text("first_name").notNull().default(""),
    lastName: text("last_name").notNull().default(""),
    avatarUrl: text("avatar_url").notNull().default(""),
    isVerified: integer("is_verified", { mode: "boolean" }).notNull().default(false),
    /** A shadow user was created by a guest checkout; it cannot log in until claimed. */
    isGuest: integer("is_guest", { mode: "boolean" }).notNull().default(false),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    /** For SCANNER accounts: the organizer whose events this gate staff may scan. */
    organizerId: text("organizer_id"),
    googleSub: text("google_sub"),
    phoneNumber: text("phone_number"),
    /** Bumped on every password change; reset links issued before it are dead. */
    passwordChangedAt: integer("password_changed_at", { mode: "number" }),
    lastLoginAt: integer("last_login_at", { mode: "number" }),
    // The organizer wallet (contract §17): `wallet_id` once activated (the user object shows
    // it); the payout number and its verification are set only by the operator's
    // `organizer:verify` script, the freeze only by `organizer:freeze`.
    walletId: text("wallet_id"),
    walletActivatedAt: integer("wallet_activated_at", { mode: "number" }),
    isKycVerified: integer("is_kyc_verified", { mode: "boolean" }).notNull().default(false),
    /** `2547…`/`2541…`: the only number payouts go to. */
    payoutPhone: text("payout_phone"),
    isWalletFrozen: integer("is_wallet_frozen", { mode: "boolean" }).notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("users_wallet_id_unique").on(t.walletId),
    uniqueIndex("users_email_lower_unique").on(sql`lower(${t.email})`),
    uniqueIndex("users_username_lower_unique").on(sql`lower(${t.username})`),
    uniqueIndex("users_google_sub_unique").on(t.googleSub),
    index("users_organizer_idx").on(t.organizerId),
  ],
);

/**
 * One row per login (a refresh-token family). Rotation keeps the current refresh jti and
 * the one before it (tolerated for 30 s, for parallel requests); any older jti presented
 * means the token leaked, so the session is revoked, access tokens included.
 */
export const authSessions = sqliteTable(
  "auth_sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    refreshJti: text("refresh_jti").notNull(),
    previousRefreshJti: text("previous_refresh_jti"),
    rotatedAt: integer("rotated_at", { mode: "number" }),
    expiresAt: integer("expires_at", { mode: "number" }).notNull(),
    revokedAt: integer("revoked_at", { mode: "number" }),
    revokedReason: text("revoked_reason"),
    userAgent: text("user_agent"),
    ipAddress: text("ip_address"),
    createdAt: createdAt(),
  },
  (t) => [index("auth_sessions_user_idx").on(t.userId), index("auth_sessions_expires_idx").on(t.expiresAt)],
);

/** Individually blacklisted token ids (logout); purged by cron once the token has expired. */
export const blacklistedTokens = sqliteTable(
  "blacklisted_tokens",
  {
    jti: text("jti").primaryKey(),
    userId: text("user_id"),
    expiresAt: integer("expires_at", { mode: "number" }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("blacklisted_tokens_expires_idx").on(t.expiresAt)],
);

export const ACCOUNT_TOKEN_PURPOSES = ["activate", "password_reset"] as const;
export type AccountTokenPurpose = (typeof ACCOUNT_TOKEN_PURPOSES)[number];

/**
 * Single-use links mailed to users (email verification / shadow-account claim, password
 * reset). Only a SHA-256 of the secret is stored. `payload` carries what a claim applies
 * when the link is used (the password and username chosen at registration, hashed).
 */
export const accountTokens = sqliteTable(
  "account_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    purpose: text("purpose", { enum: ACCOUNT_TOKEN_PURPOSES }).notNull(),
    tokenHash: text("token_hash").notNull(),
    payload: text("payload"),
    expiresAt: integer("expires_at", { mode: "number" }).notNull(),
    usedAt: integer("used_at", { mode: "number" }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("account_tokens_hash_unique").on(t.tokenHash),
    index("account_tokens_user_purpose_idx").on(t.userId, t.purpose),
    index("account_tokens_expires_idx").on(t.expiresAt),
  ],
);

export const invitationCodes = sqliteTable(
  "invitation_codes",
  {
    id: text("id").primaryKey(),
    code: text("code").notNull(),
    note: text("note").notNull().default(""),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    maxUses: integer("max_uses"),
    useCount: integer("use_count").notNull().default(0),
    expiresAt: integer("expires_at", { mode: "number" }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("invitation_codes_code_upper_unique").on(sql`upper(${t.code})`)],
);

/**
 * Sliding-window limits for brute force and abuse (failed logins per account and per
 * address, account emails, ticket resends). `key` names the subject, e.g. `login:acct:jane`;
 * `hits` is a JSON array of the newest hits (epoch ms), at most the limit's `max` of them:
 * enough to tell exactly whether `max` fell inside the last window (src/lib/rate-limit.ts).
 */
export const rateLimits = sqliteTable(
  "rate_limits",
  {
    key: text("key").primaryKey(),
    hits: text("hits").notNull().default("[]"),
    /** The newest hit + the window: after this the row says nothing and may be purged. */
    expiresAt: integer("expires_at", { mode: "number" }).notNull(),
  },
  (t) => [index("rate_limits_expires_idx").on(t.expiresAt)],
);

// ---------------------------------------------------------------------------------------
// Catalogue
// ---------------------------------------------------------------------------------------

export const stores = sqliteTable(
  "stores",
  {
    id: text("id").primaryKey(),
    organizerId: text("organizer_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    slug: text("slug").notNull(),
    description: text("description").notNull().default(""),
    logoKey: text("logo_key"),
    bannerKey: text("banner_key"),
    instagramLink: text("instagram_link").notNull().default(""),
    websiteLink: text("website_link").notNull().default(""),
    isPublished: integer("is_published", { mode: "boolean" }).notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("stores_slug_unique").on(t.slug),
    index("stores_organizer_idx").on(t.organizerId, t.createdAt),
    index("stores_published_name_idx").on(t.isPublished, sql`lower(${t.name})`),
  ],
);

export const EVENT_STATUSES = ["ACTIVE", "CANCELLED"] as const;

export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    organizerId: text("organizer_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    storeId: text("store_id").references(() => stores.id, { onDelete: "set null" }),
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    category: text("category", { enum: EVENT_CATEGORIES }).notNull().default("OTHER"),
    locationName: text("location_name").notNull().default(""),
    startAt: integer("start_datetime", { mode: "number" }).notNull(),
    endAt: integer("end_datetime", { mode: "number" }).notNull(),
    posterKey: text("poster_key"),
    isPublished: integer("is_published", { mode: "boolean" }).notNull().default(true),
    isPrivate: integer("is_private", { mode: "boolean" }).notNull().default(false),
    status: text("status", { enum: EVENT_STATUSES }).notNull().default("ACTIVE"),
    cancelledAt: integer("cancelled_at", { mode: "number" }),
    /** Whether holders may pass tickets on (contract v3 §14); turning it off blocks new transfers only. */
    allowTransfers: integer("allow_transfers", { mode: "boolean" }).notNull().default(true),
    /** Denormalised for listing filters/ordering; maintained by the tier write paths. */
    lowestPrice: integer("lowest_price"),
    highestPrice: integer("highest_price"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("events_listing_idx").on(t.isPublished, t.isPrivate, t.status, t.startAt),
    index("events_listing_end_idx").on(t.isPublished, t.isPrivate, t.status, t.endAt),
    index("events_organizer_idx").on(t.organizerId, t.startAt),
    index("events_store_idx").on(t.storeId, t.startAt),
    index("events_category_idx").on(t.category, t.startAt),
    index("events_lowest_price_idx").on(t.lowestPrice),
  ],
);

export const tiers = sqliteTable(
  "tiers",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    /** Whole shillings. 0 = free tier. */
    price: integer("price").notNull(),
    quantityAllocated: integer("quantity_allocated").notNull(),
    /** Copy of the tier Durable Object's counts (the DO is the authority). */
    quantitySold: integer("quantity_sold").notNull().default(0),
    quantityHeld: integer("quantity_held").notNull().default(0),
    /** Version of the object's counts last copied here; older snapshots never overwrite newer ones. */
    inventoryVersion: integer("inventory_version").notNull().default(0),
    maxPerOrder: integer("max_per_order").notNull().default(10),
    /** Seats one buyer (account, normalised email or phone; contract §15) may have across
     * all their orders; null = no limit. Enforced by the tier's Durable Object. */
    maxPerBuyer: integer("max_per_buyer"),
    salesStart: integer("sales_start", { mode: "number" }),
    salesEnd: integer("sales_end", { mode: "number" }),
    position: integer("position").notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("tiers_event_idx").on(t.eventId, t.position),
    index("tiers_price_idx").on(t.price, t.eventId),
    // The listing's price filter asks "does this event have a tier within the bounds?".
    index("tiers_event_price_idx").on(t.eventId, t.price),
  ],
);

export const PROMO_DISCOUNT_TYPES = ["PERCENT", "FIXED"] as const;
export type PromoDiscountType = (typeof PROMO_DISCOUNT_TYPES)[number];

/**
 * Promo codes of an event (contract §12.1). `code` is stored upper case, so the unique index
 * makes it unique per event case-insensitively. Uses are NOT counted here: the code's Durable
 * Object (inventory/promo-code-uses.ts) is the one writer of used/held and holds its own copy
 * of `max_uses` / `max_uses_per_buyer`, changed only through it.
 */
export const promoCodes = sqliteTable(
  "promo_codes",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id, { onDelete: "cascade" }),
    code: text("code").notNull(),
    discountType: text("discount_type", { enum: PROMO_DISCOUNT_TYPES }).notNull(),
    /** PERCENT 1–100, or FIXED whole KES off each eligible seat. */
    value: integer("value").notNull(),
    /**
     * True: every tier of the event, tiers added later included (`tier_ids` []). False: the
     * tiers in `promo_code_tiers`; when the last of them is deleted the code is deactivated,
     * never widened to every tier.
     */
    allTiers: integer("all_tiers", { mode: "boolean" }).notNull().default(true),
    maxUses: integer("max_uses"),
    maxUsesPerBuyer: integer("max_uses_per_buyer"),
    validFrom: integer("valid_from", { mode: "number" }),
    validUntil: integer("valid_until", { mode: "number" }),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("promo_codes_event_code_unique").on(t.eventId, t.code),
    index("promo_codes_event_created_idx").on(t.eventId, t.createdAt),
  ],
);

/** The tiers a code covers when it does not cover all of them; a deleted tier drops out. */
export const promoCodeTiers = sqliteTable(
  "promo_code_tiers",
  {
    promoCodeId: text("promo_code_id")
      .notNull()
      .references(() => promoCodes.id, { onDelete: "cascade" }),
    tierId: text("tier_id")
      .notNull()
      .references(() => tiers.id, { onDelete: "cascade" }),
  },
  (t) => [
    primaryKey({ columns: [t.promoCodeId, t.tierId] }),
    index("promo_code_tiers_tier_idx").on(t.tierId),
  ],
);

// ---------------------------------------------------------------------------------------
// Money and tickets
// ---------------------------------------------------------------------------------------

export const orders = sqliteTable(
  "orders",
  {
    id: text("id").primaryKey(),
    /** `TS-XXXXXXXX` (≤ 12 chars): the M-Pesa AccountReference and the web client's ref. */
    reference: text("reference").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    tierId: text("tier_id")
      .notNull()
      .references(() => tiers.id),
    quantity: integer("quantity").notNull(),
    unitPrice: integer("unit_price").notNull(),
    amount: integer("amount").notNull(),
    buyerName: text("buyer_name").notNull().default(""),
    buyerEmail: text("buyer_email").notNull(),
    phoneNumber: text("phone_number"),
    status: text("status", { enum: ORDER_STATUSES }).notNull().default("PENDING"),
    failureReason: text("failure_reason"),
    isFree: integer("is_free", { mode: "boolean" }).notNull().default(false),
    /**
     * Placed by a guest (not signed in) with an email: the tickets land on the account holding
     * that email but show in its wallet only once it has proven the email (services/ticket-access).
     */
    placedAsGuest: integer("placed_as_guest", { mode: "boolean" }).notNull().default(false),
    holdExpiresAt: integer("hold_expires_at", { mode: "number" }),
    // Promo code (§12), frozen at initiate: the code's id and its text as typed-then-stored
    // (upper case), so the order keeps showing it even if the code is renamed; `discount` =
    // Σ line discounts (KES), `discountedSeats` = the k uses reserved on the code's object.
    promoCodeId: text("promo_code_id").references(() => promoCodes.id),
    promoCode: text("promo_code"),
    discount: integer("discount").notNull().default(0),
    discountedSeats: integer("discounted_seats").notNull().default(0),
    // Daraja
    merchantRequestId: text("merchant_request_id"),
    checkoutRequestId: text("checkout_request_id"),
    mpesaReceiptNumber: text("mpesa_receipt_number"),
    resultCode: integer("result_code"),
    resultDesc: text("result_desc"),
    paidAmount: integer("paid_amount"),
    paidPhone: text("paid_phone"),
    transactionDate: text("transaction_date"),
    paidAt: integer("paid_at", { mode: "number" }),
    /** Last STK query made by settlement, so a busy Daraja is not asked every minute. */
    lastQueriedAt: integer("last_queried_at", { mode: "number" }),
    queryAttempts: integer("query_attempts").notNull().default(0),
    // Refunds (cancelled events, late payments)
    refundStatus: text("refund_status", { enum: ["PENDING", "REFUNDED"] }),
    // Ticket delivery
    deliveryStatus: text("delivery_status", { enum: DELIVERY_STATUSES }),
    deliveryAttempts: integer("delivery_attempts").notNull().default(0),
    deliveredAt: integer("delivered_at", { mode: "number" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("orders_reference_unique").on(t.reference),
    uniqueIndex("orders_checkout_request_unique").on(t.checkoutRequestId),
    uniqueIndex("orders_receipt_unique").on(t.mpesaReceiptNumber),
    index("orders_user_idx").on(t.userId, t.createdAt),
    index("orders_event_status_idx").on(t.eventId, t.status),
    index("orders_tier_idx").on(t.tierId),
    index("orders_settlement_idx").on(t.status, t.holdExpiresAt),
    index("orders_paid_at_idx").on(t.status, t.paidAt),
  ],
);

/**
 * The lines of an order (contract §11): one per tier, prices frozen at initiate. `orders`
 * keeps the first line's tier and unit price and the order's total seats and amount, so
 * single-tier readers work unchanged; an order without lines (made before they existed) is
 * its own single line.
 */
export const orderItems = sqliteTable(
  "order_items",
  {
    orderId: text("order_id")
      .notNull()
      .references(() => orders.id),
    tierId: text("tier_id")
      .notNull()
      .references(() => tiers.id),
    /** The line's place in the buyer's `items` (tickets follow it, then seat). */
    position: integer("position").notNull(),
    quantity: integer("quantity").notNull(),
    /** The tier's price at initiate, whole shillings. */
    unitPrice: integer("unit_price").notNull(),
    /** The line's total discount (§12.3), whole shillings; 0 without a promo code. */
    discount: integer("discount").notNull().default(0),
    /** How many of the line's seats carry the discount (each the same amount off). */
    discountedSeats: integer("discounted_seats").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.orderId, t.tierId] }), index("order_items_tier_idx").on(t.tierId)],
);

export const tickets = sqliteTable(
  "tickets",
  {
    id: text("id").primaryKey(),
    orderId: text("order_id")
      .notNull()
      .references(() => orders.id),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    tierId: text("tier_id")
      .notNull()
      .references(() => tiers.id),
    ownerId: text("owner_id")
      .notNull()
      .references(() => users.id),
    /** Seat number within the order (0-based); with order_id it makes issuance idempotent. */
    seatIndex: integer("seat_index").notNull(),
    attendeeName: text("attendee_name").notNull().default(""),
    attendeeEmail: text("attendee_email").notNull().default(""),
    /** Compact Ed25519 JWS: what the QR code holds. */
    qrCodeHash: text("qr_code_hash").notNull(),
    /** Lowercase hex SHA-256 of qr_code_hash, for scanners' offline matching. */
    ticketHash: text("ticket_hash").notNull(),
    signingKeyId: text("signing_key_id").notNull(),
    status: text("status", { enum: TICKET_STATUSES }).notNull().default("ACTIVE"),
    checkedInAt: integer("checked_in_at", { mode: "number" }),
    checkedInBy: text("checked_in_by"),
    checkedInDevice: text("checked_in_device"),
    pngKey: text("png_key"),
    /** What was paid for this seat after discount (contract §5/§12.5); null on tickets issued
     * before it was recorded (then the tier's price at the time). */
    pricePaid: integer("price_paid"),
    /** Transfers so far (contract v3 §14.2 rule 6: at most MAX_TRANSFERS_PER_TICKET). */
    transferCount: integer("transfer_count").notNull().default(0),
    /**
     * The version `v` of the current token (§14.3): 1 for the token issued with the ticket
     * (whose payload has no `v`), + 1 at each re-issue. A transfer's UPDATE is conditional on
     * it, so of two racing transfers exactly one re-issues the token.
     */
    tokenVersion: integer("token_version").notNull().default(1),
    createdAt: createdAt(),
    /** Bumped on every change (the writer's clock; informational, not the sync cursor). */
    updatedAt: updatedAt(),
    /**
     * The scanner sync's change cursor (contract §6): a strictly increasing number over all
     * tickets, set by the triggers in migrations/0010_sync_cursor.sql on insert and on any
     * update of a column the guest list shows (not png_key). D1 commits one write at a time,
     * so a higher number is a later commit: "changed since" is `change_seq > token`.
     * NULL only inside the inserting statement, before its trigger runs.
     */
    changeSeq: integer("change_seq"),
  },
  (t) => [
    uniqueIndex("tickets_order_seat_unique").on(t.orderId, t.seatIndex),
    uniqueIndex("tickets_ticket_hash_unique").on(t.ticketHash),
    index("tickets_owner_idx").on(t.ownerId, t.createdAt),
    index("tickets_event_change_seq_idx").on(t.eventId, t.changeSeq),
    // The triggers' MAX(change_seq) reads this (one step down the index, not a scan).
    uniqueIndex("tickets_change_seq_unique").on(t.changeSeq),
    // The attendee summary counts by tier and status; the attendee list pages by purchase.
    index("tickets_event_tier_status_idx").on(t.eventId, t.tierId, t.status),
    index("tickets_event_created_idx").on(t.eventId, t.createdAt, t.id),
  ],
);

export const REVOCATION_REASONS = ["transferred", "cancelled"] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/**
 * Ticket tokens that no longer admit anyone (contract v3 §14.4), keyed by `ticket_hash` (the
 * SHA-256 scanners match offline): a transferred ticket's superseded token (written by the
 * transfer's batch) and a cancelled ticket's token (written by the trigger in the migration
 * that made this table, whatever cancelled it). `change_seq` is the ticket's change cursor
 * at revocation, so the attendee sync pages revocations on the same cursor as tickets.
 */
export const ticketRevocations = sqliteTable(
  "ticket_revocations",
  {
    ticketHash: text("ticket_hash").primaryKey(),
    ticketId: text("ticket_id")
      .notNull()
      .references(() => tickets.id),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    reason: text("reason", { enum: REVOCATION_REASONS }).notNull(),
    /** The revoked token's version. */
    tokenVersion: integer("token_version").notNull(),
    revokedAt: integer("revoked_at", { mode: "number" }).notNull(),
    changeSeq: integer("change_seq").notNull(),
  },
  (t) => [
    index("ticket_revocations_event_seq_idx").on(t.eventId, t.changeSeq),
    index("ticket_revocations_ticket_idx").on(t.ticketId),
  ],
);

/** One row per transfer (contract v3 §14.3): from whom, to whom, when, old and new token version. */
export const ticketTransfers = sqliteTable(
  "ticket_transfers",
  {
    id: text("id").primaryKey(),
    ticketId: text("ticket_id")
      .notNull()
      .references(() => tickets.id),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    fromUserId: text("from_user_id")
      .notNull()
      .references(() => users.id),
    toUserId: text("to_user_id")
      .notNull()
      .references(() => users.id),
    recipientEmail: text("recipient_email").notNull(),
    recipientName: text("recipient_name").notNull(),
    fromVersion: integer("from_version").notNull(),
    toVersion: integer("to_version").notNull(),
    transferredAt: integer("transferred_at", { mode: "number" }).notNull(),
    /** Runs of its delivery job (render, the two emails); 0 = its enqueue may have failed. */
    deliveryAttempts: integer("delivery_attempts").notNull().default(0),
    /** When both emails were sent (or found sent); null while delivery is owed. */
    deliveredAt: integer("delivered_at", { mode: "number" }),
  },
  (t) => [
    // A token version is issued once: a second winner of one version is impossible.
    uniqueIndex("ticket_transfers_ticket_version_unique").on(t.ticketId, t.toVersion),
    index("ticket_transfers_event_idx").on(t.eventId, t.transferredAt),
    index("ticket_transfers_to_user_idx").on(t.toUserId),
    index("ticket_transfers_ticket_idx").on(t.ticketId, t.transferredAt),
    index("ticket_transfers_undelivered_idx").on(t.deliveredAt, t.deliveryAttempts, t.transferredAt),
  ],
);

/** Every scan, online or from an offline batch; a replayed batch hits the unique index. */
export const checkins = sqliteTable(
  "checkins",
  {
    id: text("id").primaryKey(),
    ticketId: text("ticket_id")
      .notNull()
      .references(() => tickets.id),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    scannedAt: integer("scanned_at", { mode: "number" }).notNull(),
    deviceId: text("device_id").notNull().default(""),
    scannerId: text("scanner_id"),
    result: text("result", {
      enum: ["ok", "already_checked_in", "cancelled"],
    }).notNull(),
    source: text("source", { enum: ["online", "offline"] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("checkins_replay_unique").on(t.ticketId, t.deviceId, t.scannedAt),
    index("checkins_event_idx").on(t.eventId, t.createdAt),
  ],
);

/** `Idempotency-Key` answers, scoped by caller, kept for 24 hours. */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    /** Null while the first request is still being processed. */
    responseStatus: integer("response_status"),
    responseBody: text("response_body"),
    expiresAt: integer("expires_at", { mode: "number" }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index("idempotency_keys_expires_idx").on(t.expiresAt)],
);

// ---------------------------------------------------------------------------------------
// Money out: refunds (contract §13) and the B2C requests that carry them (payouts later)
// ---------------------------------------------------------------------------------------

export const REFUND_STATUSES = ["PENDING", "SENT", "COMPLETED", "FAILED"] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];
export const REFUND_TRIGGERS = ["ORGANIZER", "EVENT_CANCELLED", "PAID_UNFULFILLED"] as const;
export type RefundTrigger = (typeof REFUND_TRIGGERS)[number];
export const REFUND_RESOLUTIONS = ["MANUAL", "ABANDONED"] as const;
export const REFUND_REVIEW_REASONS = ["amount_mismatch", "duplicate_payout", "stale"] as const;

/**
 * One refund of (part of) an order. Its `amount` is reserved against the order's payment from
 * the moment the row exists (unless ABANDONED): rows are inserted only by a conditional write
 * that checks Σ reserved + amount ≤ paid (services/refunds/record.ts).
 */
export const refunds = sqliteTable(
  "refunds",
  {
    id: text("id").primaryKey(),
    orderId: text("order_id")
      .notNull()
      .references(() => orders.id),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    amount: integer("amount").notNull(),
    reason: text("reason").notNull().default(""),
    trigger: text("trigger", { enum: REFUND_TRIGGERS }).notNull(),
    /** This refund took the order's refundable to 0 (and so cancelled every ACTIVE ticket). */
    full: integer("full", { mode: "boolean" }).notNull().default(false),
    status: text("status", { enum: REFUND_STATUSES }).notNull().default("PENDING"),
    /** The number that paid (`2547…`): the only one that may receive the money. */
    phone: text("phone").notNull(),
    mpesaReceipt: text("mpesa_receipt"),
    /** B2C requests sent for it. */
    attempts: integer("attempts").notNull().default(0),
    /** The b2c_requests row of the attempt in flight (or the last one); null = may claim a new one. */
    currentAttemptId: text("current_attempt_id"),
    failureCode: text("failure_code"),
    failureReason: text("failure_reason"),
    retryable: integer("retryable", { mode: "boolean" }).notNull().default(false),
    /** Automatic retries already scheduled (§13.4: at most 3). */
    autoRetries: integer("auto_retries").notNull().default(0),
    nextRetryAt: integer("next_retry_at", { mode: "number" }),
    resolution: text("resolution", { enum: REFUND_RESOLUTIONS }),
    resolutionNote: text("resolution_note"),
    reviewReason: text("review_reason", { enum: REFUND_REVIEW_REASONS }),
    createdBy: text("created_by"),
    createdAt: createdAt(),
    sentAt: integer("sent_at", { mode: "number" }),
    failedAt: integer("failed_at", { mode: "number" }),
    completedAt: integer("completed_at", { mode: "number" }),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("refunds_order_idx").on(t.orderId),
    index("refunds_event_created_idx").on(t.eventId, t.createdAt),
    index("refunds_status_idx").on(t.status, t.updatedAt),
    // §13.3 rule 5: a system trigger refunds an order at most once, however often it fires.
    uniqueIndex("refunds_system_trigger_unique")
      .on(t.orderId, t.trigger)
      .where(sql`${t.trigger} <> 'ORGANIZER'`),
  ],
);

/** The tickets a refund cancelled (written in the same transaction as the refund). */
export const refundTickets = sqliteTable(
  "refund_tickets",
  {
    refundId: text("refund_id")
      .notNull()
      .references(() => refunds.id),
    ticketId: text("ticket_id")
      .notNull()
      .references(() => tickets.id),
  },
  (t) => [
    primaryKey({ columns: [t.refundId, t.ticketId] }),
    uniqueIndex("refund_tickets_ticket_unique").on(t.ticketId),
  ],
);

export const B2C_PURPOSES = ["REFUND", "PAYOUT"] as const;
export const B2C_REQUEST_STATUSES = [
  "CREATED", // recorded, about to be (or being) sent: outcome unknown if we never hear back
  "ACCEPTED", // Daraja answered ResponseCode 0
  "REJECTED", // Daraja refused synchronously: money did not move
  "UNKNOWN", // no usable answer (timeout, network, 5xx): money may have moved
  "TIMED_OUT", // queue-timeout callback: outcome unknown, a late Result may still settle it
  "COMPLETED", // Result 0
  "FAILED", // Result ≠ 0
] as const;
export type B2CRequestStatus = (typeof B2C_REQUEST_STATUSES)[number];

/**
 * One row per B2C payment request we send. `id` IS the OriginatorConversationID (a fresh UUID
 * per attempt), written before the request leaves, so every callback can be matched and
 * deduplicated; `purpose` + `subject_id` say what it pays (a refund today, payouts later).
 */
export const b2cRequests = sqliteTable(
  "b2c_requests",
  {
    id: text("id").primaryKey(),
    purpose: text("purpose", { enum: B2C_PURPOSES }).notNull(),
    subjectId: text("subject_id").notNull(),
    amount: integer("amount").notNull(),
    phone: text("phone").notNull(),
    status: text("status", { enum: B2C_REQUEST_STATUSES }).notNull().default("CREATED"),
    conversationId: text("conversation_id"),
    resultCode: text("result_code"),
    resultDesc: text("result_desc"),
    receipt: text("receipt"),
    resultAmount: integer("result_amount"),
    createdAt: createdAt(),
    answeredAt: integer("answered_at", { mode: "number" }),
    settledAt: integer("settled_at", { mode: "number" }),
    /**
     * Reconciliation (Daraja Transaction Status query) of an attempt we never heard final word
     * on: the ConversationID of the last query Daraja accepted (its Result is matched on it),
     * when we last asked, and how often.
     */
    statusQueryId: text("status_query_id"),
    statusQueriedAt: integer("status_queried_at", { mode: "number" }),
    statusQueries: integer("status_queries").notNull().default(0),
  },
  (t) => [
    index("b2c_requests_status_query_idx").on(t.statusQueryId),
    index("b2c_requests_subject_idx").on(t.purpose, t.subjectId),
    index("b2c_requests_status_idx").on(t.status, t.createdAt),
  ],
);

// ---------------------------------------------------------------------------------------
// The organizer wallet (contract §17): an immutable ledger, and payouts
// ---------------------------------------------------------------------------------------

export const LEDGER_ENTRY_TYPES = ["SALE", "FEE", "REFUND", "PAYOUT", "PAYOUT_REVERSED"] as const;
export type LedgerEntryType = (typeof LEDGER_ENTRY_TYPES)[number];
export const LEDGER_ENTRY_STATUSES = ["COMPLETED", "PENDING", "FAILED"] as const;
export type LedgerEntryStatus = (typeof LEDGER_ENTRY_STATUSES)[number];

/**
 * An organizer's money, one immutable entry per movement, in signed whole shillings: SALE
 * (+ an order's total), FEE (− the platform's cut of it), REFUND (− money sent back to a fan),
 * PAYOUT (− a withdrawal), PAYOUT_REVERSED (+ a withdrawal M-Pesa did not complete).
 * Balances are sums (lib/wallet-balance.ts), never a counter. `dedupe_key` (`sale:<order>`,
 * `fee:<order>`, `refund:<refund>`, `payout:<payout>`, `payout_reversed:<payout>`) makes every
 * writer idempotent: a retried settlement or a repeated B2C result inserts nothing. Triggers
 * (migration 0013) refuse deletes and every update except a PAYOUT leaving PENDING.
 */
export const ledgerEntries = sqliteTable(
  "ledger_entries",
  {
    id: text("id").primaryKey(),
    organizerId: text("organizer_id").notNull(),
    type: text("type", { enum: LEDGER_ENTRY_TYPES }).notNull(),
    amount: integer("amount").notNull(),
    status: text("status", { enum: LEDGER_ENTRY_STATUSES }).notNull().default("COMPLETED"),
    /** What the organizer recognises: the order reference, the refund id or `WD-…`. */
    reference: text("reference").notNull(),
    dedupeKey: text("dedupe_key").notNull(),
    /** The event a SALE, FEE or REFUND belongs to: its end (and cancellation) decide availability. */
    eventId: text("event_id"),
    orderId: text("order_id"),
    refundId: text("refund_id"),
    payoutId: text("payout_id"),
    /** SALE/FEE: event end + PAYOUT_HOLD_DAYS when written (the event's current end also counts). */
    availableAt: integer("available_at", { mode: "number" }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("ledger_entries_dedupe_unique").on(t.dedupeKey),
    index("ledger_entries_organizer_created_idx").on(t.organizerId, t.createdAt),
    index("ledger_entries_organizer_event_idx").on(t.organizerId, t.eventId),
  ],
);

export const PAYOUT_STATUSES = [
  "PENDING", // recorded (PAYOUT entry written), not yet accepted by Daraja
  "SENT", // Daraja accepted it, or may have (no answer, queue timeout): only Daraja's word settles it
  "COMPLETED", // Result 0 (or the status query said Completed)
  "FAILED", // Daraja refused or the Result said no: PAYOUT_REVERSED written, organizer emailed
] as const;
export type PayoutStatus = (typeof PAYOUT_STATUSES)[number];

/** A withdrawal: exactly one B2C attempt (never re-sent; a failure is reversed instead). */
export const payouts = sqliteTable(
  "payouts",
  {
    id: text("id").primaryKey(),
    organizerId: text("organizer_id").notNull(),
    /** `WD-XXXXXXXX`. */
    reference: text("reference").notNull(),
    amount: integer("amount").notNull(),
    phone: text("phone").notNull(),
    status: text("status", { enum: PAYOUT_STATUSES }).notNull().default("PENDING"),
    /** The b2c_requests row (its id is the OriginatorConversationID). */
    b2cRequestId: text("b2c_request_id"),
    mpesaReceipt: text("mpesa_receipt"),
    failureCode: text("failure_code"),
    failureReason: text("failure_reason"),
    createdAt: createdAt(),
    sentAt: integer("sent_at", { mode: "number" }),
    completedAt: integer("completed_at", { mode: "number" }),
    failedAt: integer("failed_at", { mode: "number" }),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("payouts_reference_unique").on(t.reference),
    index("payouts_organizer_created_idx").on(t.organizerId, t.createdAt),
    index("payouts_status_idx").on(t.status, t.createdAt),
  ],
);

// ---------------------------------------------------------------------------------------
// Mail
// ---------------------------------------------------------------------------------------

export const MAIL_STATUSES = ["QUEUED", "SENT", "FAILED"] as const;
export const MAIL_TRANSPORTS = ["brevo", "outbox"] as const;
export type MailTransport = (typeof MAIL_TRANSPORTS)[number];

/**
 * An organizer's webhook endpoint (contract v3 §16.1): covers all their events. The signing
 * secret is kept only encrypted (AES-GCM under WEBHOOK_SECRET_KEY); a deleted endpoint stays
 * (soft delete) so its delivery log still names it, but no route shows it again.
 */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    organizerId: text("organizer_id")
      .notNull()
      .references(() => users.id),
    url: text("url").notNull(),
    /** The subscribed event types as a bit mask (src/services/webhooks/event-types.ts). */
    eventMask: integer("event_mask").notNull(),
    description: text("description").notNull().default(""),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    disabledReason: text("disabled_reason", { enum: ["gone", "failing", "manual"] }),
    /** base64url(iv ‖ AES-GCM ciphertext) of the `whsec_…` secret. */
    secretCiphertext: text("secret_ciphertext").notNull(),
    createdAt: integer("created_at", { mode: "number" }).notNull(),
    updatedAt: integer("updated_at", { mode: "number" }).notNull(),
    lastDeliveryAt: integer("last_delivery_at", { mode: "number" }),
    /** The first failed attempt since the last 2xx (null while healthy): 72 h of it disables (§16.3). */
    failingSince: integer("failing_since", { mode: "number" }),
    deletedAt: integer("deleted_at", { mode: "number" }),
  },
  (t) => [index("webhook_endpoints_organizer_idx").on(t.organizerId, t.deletedAt, t.createdAt)],
);

/**
 * The outbox (§16.2): one row per event, written in the same D1 batch as the change it reports,
 * only while the organizer has an active endpoint subscribed to its type. `body` is the exact
 * JSON sent on every attempt. `dedupeKey` makes an event of one change unique (a repeated
 * settlement, refund result or check-in announces nothing twice).
 */
export const webhookEvents = sqliteTable(
  "webhook_events",
  {
    id: text("id").primaryKey(),
    organizerId: text("organizer_id").notNull(),
    type: text("type").notNull(),
    dedupeKey: text("dedupe_key"),
    body: text("body").notNull(),
    createdAt: integer("created_at", { mode: "number" }).notNull(),
  },
  (t) => [
    uniqueIndex("webhook_events_dedupe_unique").on(t.dedupeKey),
    index("webhook_events_created_idx").on(t.createdAt),
  ],
);

/** One event's delivery to one endpoint (§16.3), with its attempts and schedule. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id")
      .notNull()
      .references(() => webhookEvents.id),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id),
    type: text("type").notNull(),
    status: text("status", { enum: ["PENDING", "DELIVERED", "FAILED", "CANCELLED"] })
      .notNull()
      .default("PENDING"),
    attempts: integer("attempts").notNull().default(0),
    createdAt: integer("created_at", { mode: "number" }).notNull(),
    lastAttemptAt: integer("last_attempt_at", { mode: "number" }),
    /** When the next attempt is due; while an attempt runs, the end of its lease. Null once final. */
    nextAttemptAt: integer("next_attempt_at", { mode: "number" }),
    lastResponseCode: integer("last_response_code"),
    lastError: text("last_error"),
  },
  (t) => [
    index("webhook_deliveries_endpoint_idx").on(t.endpointId, t.createdAt),
    index("webhook_deliveries_event_idx").on(t.eventId),
    index("webhook_deliveries_due_idx").on(t.status, t.nextAttemptAt),
  ],
);

/**
 * Every email the system sends, whatever the transport. With the outbox transport (local
 * development, no BREVO_API_KEY) this table *is* the outbox. `dedupe_key` makes sending
 * idempotent: the same logical email (e.g. an order's tickets) is recorded once.
 */
export const mailLog = sqliteTable(
  "mail_log",
  {
    id: text("id").primaryKey(),
    dedupeKey: text("dedupe_key"),
    kind: text("kind").notNull(),
    toEmail: text("to_email").notNull(),
    toName: text("to_name").notNull().default(""),
    subject: text("subject").notNull(),
    textBody: text("text_body").notNull(),
    htmlBody: text("html_body").notNull(),
    /** JSON array of {name, content_type, key, size}; the bytes live in R2 under `key`. */
    attachments: text("attachments").notNull().default("[]"),
    transport: text("transport", { enum: MAIL_TRANSPORTS }).notNull(),
    status: text("status", { enum: MAIL_STATUSES }).notNull().default("QUEUED"),
    attempts: integer("attempts").notNull().default(0),
    /** A consumer holds the row until then, so parallel redeliveries do not both send. */
    lockedUntil: integer("locked_until", { mode: "number" }),
    providerMessageId: text("provider_message_id"),
    lastError: text("last_error"),
    orderId: text("order_id"),
    sentAt: integer("sent_at", { mode: "number" }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("mail_log_dedupe_unique").on(t.dedupeKey),
    index("mail_log_transport_created_idx").on(t.transport, t.createdAt),
    index("mail_log_order_idx").on(t.orderId),
    index("mail_log_status_idx").on(t.status, t.createdAt),
  ],
);

/**
 * State of the local M-Pesa simulator (development only; never used in production): one row
 * per STK push it accepted, so STK queries and delayed callbacks can answer consistently.
 */
export const mpesaSimulatorPushes = sqliteTable("mpesa_simulator_pushes", {
  checkoutRequestId: text("checkout_request_id").primaryKey(),
  merchantRequestId: text("merchant_request_id").notNull(),
  phoneNumber: text("phone_number").notNull(),
  amount: integer("amount").notNull(),
  accountReference: text("account_reference").notNull(),
  callbackUrl: text("callback_url").notNull(),
  /** The outcome the simulator decided from the phone number (0, 1032, 1, 1037). */
  resultCode: integer("result_code").notNull(),
  resultDesc: text("result_desc").notNull(),
  receiptNumber: text("receipt_number"),
  /** When the customer "answers" (callback due); null = never (the timeout number). */
  answersAt: integer("answers_at", { mode: "number" }),
  callbackSentAt: integer("callback_sent_at", { mode: "number" }),
  createdAt: createdAt(),
});

export type User = typeof users.$inferSelect;
export type Order = typeof orders.$inferSelect;
export type OrderItemRow = typeof orderItems.$inferSelect;
export type Refund = typeof refunds.$inferSelect;
export type B2CRequestRow = typeof b2cRequests.$inferSelect;
export type AuthSession = typeof authSessions.$inferSelect;
export type MailLogRow = typeof mailLog.$inferSelect;
export type StoreRow = typeof stores.$inferSelect;
export type PromoCodeRow = typeof promoCodes.$inferSelect;
export type LedgerEntryRow = typeof ledgerEntries.$inferSelect;
export type PayoutRow = typeof payouts.$inferSelect;
export type TicketRevocationRow = typeof ticketRevocations.$inferSelect;
export type TicketTransferRow = typeof ticketTransfers.$inferSelect;
