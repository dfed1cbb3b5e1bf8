/**
 * Typed configuration read once per request from vars and secrets, with the contract's
 * defaults (§9). A deployment fails closed: an unknown ENVIRONMENT (a typo, "Production")
 * or a short secret outside development throws ConfigError, and the entry points refuse
 * to serve rather than fall back to development behaviour (outbox, simulator, dev key).
 */
import type { Bindings } from "./env";

export interface Config {
  environment: "development" | "test" | "preview" | "production";
  isProduction: boolean;
  publicBaseUrl: string;
  frontendUrl: string;
  allowedOrigins: Set<string>;
  jwtSecret: string;
  mpesa: {
    baseUrl: string;
    shortcode: string;
    consumerKey: string;
    consumerSecret: string;
    passkey: string;
    callbackToken: string;
    /** No consumer key in development or test: Daraja calls go to the built-in simulator. */
    useSimulator: boolean;
    simulatorDelayMs: number;
    /** B2C (refunds, payouts; contract §13.7). */
    b2c: {
      shortcode: string;
      initiatorName: string;
      securityCredential: string;
      /** MPESA_B2C_CONSUMER_KEY/SECRET when both set, else the STK app's keys. */
      consumerKey: string;
      consumerSecret: string;
      resultToken: string;
      resultUrl: string;
      queueTimeoutUrl: string;
      /** Transaction Status query callbacks (reconciliation; same token). */
      statusResultUrl: string;
      statusTimeoutUrl: string;
      retryBaseSeconds: number;
      /** B2C_REQUESTS_PER_SECOND: refunds' B2C requests in any second (§13.3 rule 3); default 5. */
      requestsPerSecond: number;
    };
  };
  mail: {
    brevoApiUrl: string;
    brevoApiKey: string;
    from: { name: string; email: string };
    /** No Brevo key in development or test: mail is kept in the dev outbox. */
    useOutbox: boolean;
  };
  google: { clientId: string; tokeninfoUrl: string };
  holdSeconds: number;
  /**
   * At most this many bookings (each sends one tickets email) to one recipient address in any
   * hour, unless the signed-in buyer has proven that address (BOOKINGS_PER_RECIPIENT_PER_HOUR).
   */
  bookingsPerRecipientPerHour: number;
  /** Seats in one order over all its tiers (contract §11.1, MAX_SEATS_PER_ORDER). */
  maxSeatsPerOrder: number;
  /** Transfers close this long before the event's start (contract v3 §14.2 rule 5, TRANSFER_CUTOFF_HOURS). */
  transferCutoffHours: number;
  /** Transfers one ticket may have (§14.2 rule 6, MAX_TRANSFERS_PER_TICKET). */
  maxTransfersPerTicket: number;
  organizerInviteRequired: boolean;
  /** The organizer wallet (contract §17). */
  wallet: {
    /** PLATFORM_FEE_PERCENT in basis points (2.5 % → 250); default 0. */
    platformFeeBasisPoints: number;
    /** PAYOUT_HOLD_DAYS after an event ends, in ms; default 2 days. */
    payoutHoldMs: number;
    /** PAYOUT_MIN_KES, the smallest withdrawal; default 100. */
    payoutMinKes: number;
    /** M-Pesa's B2C limit per transaction. */
    payoutMaxKes: number;
  };
  /** Organizer webhooks (contract v3 §16). */
  webhooks: {
    /** WEBHOOK_SECRET_KEY: encrypts endpoint secrets at rest (a fixed key in development). */
    secretKey: string;
    /** WEBHOOK_RETRY_BASE_SECONDS (1–60: the longest wait, 720 × base, must fit Queues' 12 h). */
    retryBaseSeconds: number;
    /** http, localhost and private IP literals allowed as endpoint URLs (development and test). */
    allowLocalUrls: boolean;
  };
  ticketSigningKey: string;
  /** Retired ticket keys (comma-separated) still trusted for verification after a rotation. */
  ticketPreviousSigningKeys: string;
}

/** The deployment's configuration is unusable; the message names what is wrong, never a value. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const ENVIRONMENTS = ["development", "test", "preview", "production"] as const;
const MIN_SECRET_LENGTH = 32;

const DEV_JWT_SECRET = "ticketsafi-insecure-development-secret-do-not-use";
const DEV_WEBHOOK_SECRET_KEY = "ticketsafi-insecure-development-webhook-key-do-not-use";

function stripTrailingSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

function intVar(value: string | undefined, fallback: number, min: number, max: number): number {
  const n = Number.parseInt(value ?? "", 10);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

/** M-Pesa's B2C limit per withdrawal (contract §17). */
const PAYOUT_MAX_KES = 150_000;

/** A percentage 0–100 with at most two decimals → basis points; anything else → 0. */
function percentVar(value: string | undefined): number {
  const text = (value ?? "").trim();
  if (!/^\d{1,3}(\.\d{1,2})?$/.test(text)) return 0;
  return Math.min(10_000, Math.round(Number(text) * 100));
}

/** `Name <addr@host>` or a bare address. */
function parseMailbox(value: string): { name: string; email: string } {
  const match = /^\s*(.*?)\s*<\s*([^>\s]+)\s*>\s*$/.exec(value);
  if (match?.[2]) return { name: match[1]?.replace(/^"|"$/g, "") || "TicketSafi", email: match[2] };
  return { name: "TicketSafi", email: value.trim() || "tickets@ticketsafi.local" };
}

/** Exactly one of the four names: anything else must not be mistaken for development. */
function parseEnvironment(value: string | undefined): Config["environment"] {
  const known = ENVIRONMENTS.find((name) => name === value);
  if (!known) throw new ConfigError(`ENVIRONMENT must be one of ${ENVIRONMENTS.join(", ")}.`);
  return known;
}

/** Outside development a secret must be long enough not to be guessed (§9). */
function requireSecret(name: string, value: string, environment: Config["environment"]): void {
  if (environment !== "development" && value.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`${name} must be at least ${MIN_SECRET_LENGTH} characters outside development.`);
  }
}

/**
 * Every absolute URL the API hands out is built on PUBLIC_BASE_URL, never on the request's
 * `Host` (§9), so it must be an http(s) origin. Outside development and test it must be set
 * (no localhost default in a link a customer follows) and use https.
 */
function parsePublicBaseUrl(value: string | undefined, isLocal: boolean): string {
  const raw = stripTrailingSlash((value ?? "").trim());
  if (!raw && isLocal) return "http://localhost:8787";
  const url = URL.canParse(raw) ? new URL(raw) : null;
  if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password || url.search || url.hash) {
    throw new ConfigError("PUBLIC_BASE_URL must be an absolute http(s) URL.");
  }
  if (!isLocal && url.protocol !== "https:") {
    throw new ConfigError("PUBLIC_BASE_URL must use https outside development and test.");
  }
  return raw;
}

const cache = new WeakMap<object, Config>();

export function loadConfig(env: Bindings): Config {
  const cached = cache.get(env);
  if (cached) return cached;

  const environment = parseEnvironment(env.ENVIRONMENT);
  const isProduction = environment === "production";
  // The outbox, the simulator and the fallback key exist only for an explicit local run.
  const isLocal = environment === "development" || environment === "test";
  const jwtSecret = env.JWT_SECRET ?? "";
  const callbackToken = env.MPESA_CALLBACK_TOKEN ?? "";
  requireSecret("JWT_SECRET", jwtSecret, environment);
  requireSecret("MPESA_CALLBACK_TOKEN", callbackToken, environment);
  const webhookSecretKey = env.WEBHOOK_SECRET_KEY ?? "";
  requireSecret("WEBHOOK_SECRET_KEY", webhookSecretKey, environment);
  const publicBaseUrl = parsePublicBaseUrl(env.PUBLIC_BASE_URL, isLocal);
  const frontendUrl = stripTrailingSlash(env.FRONTEND_URL || "http://localhost:5173");
  const allowedOrigins = new Set(
    (env.ALLOWED_ORIGINS ?? "")
      .split(",")
      .map((o) => stripTrailingSlash(o.trim()))
      .filter(Boolean),
  );
  const consumerKey = env.MPESA_CONSUMER_KEY ?? "";
  const brevoApiKey = env.BREVO_API_KEY ?? "";

  const config: Config = {
    environment,
    isProduction,
    publicBaseUrl,
    frontendUrl,
    allowedOrigins,
    jwtSecret: jwtSecret.length >= MIN_SECRET_LENGTH ? jwtSecret : DEV_JWT_SECRET,
    mpesa: {
      baseUrl: stripTrailingSlash(env.MPESA_BASE_URL || "https://sandbox.safaricom.co.ke"),
      // The sandbox shortcode is a development default only: production must configure its own.
      shortcode: env.MPESA_SHORTCODE || (isLocal ? "174379" : ""),
      consumerKey,
      consumerSecret: env.MPESA_CONSUMER_SECRET ?? "",
      passkey: env.MPESA_PASSKEY ?? "",
      callbackToken,
      useSimulator: !consumerKey && isLocal,
      simulatorDelayMs: intVar(env.MPESA_SIMULATOR_DELAY_MS, 1500, 0, 60_000),
      b2c: b2cConfig(env, publicBaseUrl, consumerKey),
    },
    mail: {
      brevoApiUrl: stripTrailingSlash(env.BREVO_API_URL || "https://api.brevo.com/v3"),
      brevoApiKey,
      from: parseMailbox(env.MAIL_FROM || "TicketSafi <tickets@ticketsafi.local>"),
      useOutbox: !brevoApiKey && isLocal,
    },
    google: {
      clientId: env.GOOGLE_CLIENT_ID ?? "",
      tokeninfoUrl: env.GOOGLE_TOKENINFO_URL || "https://oauth2.googleapis.com/tokeninfo",
    },
    holdSeconds: intVar(env.HOLD_SECONDS, 300, 30, 3600),
    bookingsPerRecipientPerHour: intVar(env.BOOKINGS_PER_RECIPIENT_PER_HOUR, 5, 1, 1000),
    maxSeatsPerOrder: intVar(env.MAX_SEATS_PER_ORDER, 10, 1, 100),
    transferCutoffHours: intVar(env.TRANSFER_CUTOFF_HOURS, 3, 0, 24 * 30),
    maxTransfersPerTicket: intVar(env.MAX_TRANSFERS_PER_TICKET, 2, 0, 100),
    organizerInviteRequired: (env.ORGANIZER_INVITE_REQUIRED ?? "false").toLowerCase() === "true",
    wallet: {
      platformFeeBasisPoints: percentVar(env.PLATFORM_FEE_PERCENT),
      payoutHoldMs: intVar(env.PAYOUT_HOLD_DAYS, 2, 0, 365) * 24 * 60 * 60 * 1000,
      payoutMinKes: intVar(env.PAYOUT_MIN_KES, 100, 1, PAYOUT_MAX_KES),
      payoutMaxKes: PAYOUT_MAX_KES,
    },
    webhooks: {
      secretKey: webhookSecretKey.length >= MIN_SECRET_LENGTH ? webhookSecretKey : DEV_WEBHOOK_SECRET_KEY,
      retryBaseSeconds: intVar(env.WEBHOOK_RETRY_BASE_SECONDS, 60, 1, 60),
      // §16.1: http, localhost and private addresses only for an explicit local run.
      allowLocalUrls: isLocal,
    },
    ticketSigningKey: env.TICKET_SIGNING_KEY ?? "",
    ticketPreviousSigningKeys: env.TICKET_PREVIOUS_SIGNING_KEYS ?? "",
  };
  cache.set(env, config);
  return config;
}

function b2cConfig(env: Env, publicBaseUrl: string, stkConsumerKey: string): Config["mpesa"]["b2c"] {
  const ownKeys = Boolean(env.MPESA_B2C_CONSUMER_KEY && env.MPESA_B2C_CONSUMER_SECRET);
  const resultToken = env.MPESA_RESULT_TOKEN ?? "";
  const base = stripTrailingSlash(publicBaseUrl);
  return {
    shortcode: env.MPESA_B2C_SHORTCODE ?? "",
    initiatorName: env.MPESA_INITIATOR_NAME ?? "",
    securityCredential: env.MPESA_SECURITY_CREDENTIAL ?? "",
    consumerKey: ownKeys ? (env.MPESA_B2C_CONSUMER_KEY ?? "") : stkConsumerKey,
    consumerSecret: ownKeys ? (env.MPESA_B2C_CONSUMER_SECRET ?? "") : (env.MPESA_CONSUMER_SECRET ?? ""),
    resultToken,
    resultUrl: `${base}/api/pay/b2c/result/${resultToken}/`,
    queueTimeoutUrl: `${base}/api/pay/b2c/timeout/${resultToken}/`,
    statusResultUrl: `${base}/api/pay/b2c/status/result/${resultToken}/`,
    statusTimeoutUrl: `${base}/api/pay/b2c/status/timeout/${resultToken}/`,
    retryBaseSeconds: intVar(env.REFUND_RETRY_BASE_SECONDS, 600, 1, 86_400),
    requestsPerSecond: intVar(env.B2C_REQUESTS_PER_SECOND, 5, 1, 1000),
  };
}
