/**
 * The Worker's environment. Bindings and vars come from `wrangler types`
 * (worker-configuration.d.ts); secrets are declared here because they are never in
 * wrangler.toml.
 */
declare global {
  namespace Cloudflare {
    interface Env {
      JWT_SECRET?: string;
      TICKET_SIGNING_KEY?: string;
      TICKET_PREVIOUS_SIGNING_KEYS?: string;
      MPESA_CONSUMER_KEY?: string;
      MPESA_CONSUMER_SECRET?: string;
      MPESA_PASSKEY?: string;
      MPESA_CALLBACK_TOKEN?: string;
      /** Optional: the B2C shortcode's own Daraja app (default: the STK app's keys). */
      MPESA_B2C_CONSUMER_KEY?: string;
      MPESA_B2C_CONSUMER_SECRET?: string;
      /** base64 RSA-PKCS#1-v1.5 ciphertext of the initiator password (see integrations/mpesa/b2c.ts). */
      MPESA_SECURITY_CREDENTIAL?: string;
      /** Path segment of the B2C ResultURL / QueueTimeOutURL (≥ 32 chars outside development). */
      MPESA_RESULT_TOKEN?: string;
      BREVO_API_KEY?: string;
      /** Optional var: bookings (each one tickets email) per recipient address per hour; default 5. */
      BOOKINGS_PER_RECIPIENT_PER_HOUR?: string;
      /** Seats in one order, over all its tiers (contract §11.1); default 10. */
      MAX_SEATS_PER_ORDER?: string;
      /** Hours before an event's start when ticket transfers close (contract v3 §14.2); default 3. */
      TRANSFER_CUTOFF_HOURS?: string;
      /** Transfers one ticket may have (contract v3 §14.2); default 2. */
      MAX_TRANSFERS_PER_TICKET?: string;
      /** Refunds' B2C requests in any second (contract v3 §13.3 rule 3: Daraja throttles bursts); default 5. */
      B2C_REQUESTS_PER_SECOND?: string;
      /** Key material (≥ 32 chars outside development) that encrypts webhook secrets at rest (§16.1). */
      WEBHOOK_SECRET_KEY?: string;
      /** Seconds in one unit of the webhook retry schedule (contract v3 §16.3); default 60. */
      WEBHOOK_RETRY_BASE_SECONDS?: string;
    }
  }
}

export type Bindings = Env;
