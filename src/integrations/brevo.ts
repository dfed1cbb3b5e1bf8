/**
 * Brevo transactional email over HTTP (`POST {BREVO_API_URL}/smtp/email`). A small client:
 * it sends one message and classifies failures so the queue consumer knows whether a
 * retry can help (429, 5xx, network) or not (other 4xx: bad address, bad key, no credits).
 *
 * The wire format (docs/upstreams.md) is described once, here, as zod schemas: the mailer
 * builds its requests as `BrevoSendEmailRequest`, this client reads the answers with them,
 * and the test fake (test/fakes/brevo.ts) checks requests and writes answers with them.
 */
import { z } from "zod";

const BrevoMailbox = z.object({ email: z.string().min(1), name: z.string().optional() });

/**
 * The body of `POST /v3/smtp/email`. Either `htmlContent` or `textContent` is required;
 * attachments are base64 and count toward Brevo's total message size limit.
 */
export const BrevoSendEmailRequest = z
  .object({
    sender: z.object({ name: z.string(), email: z.string().min(1) }),
    to: z.array(BrevoMailbox).min(1),
    subject: z.string().min(1),
    htmlContent: z.string().optional(),
    textContent: z.string().optional(),
    attachment: z.array(z.object({ name: z.string(), content: z.string() })).optional(),
    /** `idempotencyKey`: Brevo drops a second message with the same key. */
    headers: z.record(z.string(), z.string()).optional(),
    tags: z.array(z.string()).optional(),
  })
  .refine((body) => Boolean(body.htmlContent || body.textContent), {
    message: "htmlContent or textContent is required",
  });
export type BrevoSendEmailRequest = z.infer<typeof BrevoSendEmailRequest>;

/** 201 (some accounts answer 200/202): the provider's id of the accepted message. */
export const BrevoSendEmailResponse = z.object({ messageId: z.string() });
export type BrevoSendEmailResponse = z.infer<typeof BrevoSendEmailResponse>;

/** 4xx/5xx: `{"code": "invalid_parameter" | "unauthorized" | …, "message": "…"}`. */
export const BrevoErrorResponse = z.object({ code: z.string(), message: z.string() });
export type BrevoErrorResponse = z.infer<typeof BrevoErrorResponse>;

/** What of a refusal is usable: a field that is missing or not a string is left out. */
const RefusalFields = z.object({
  code: BrevoErrorResponse.shape.code.optional().catch(undefined),
  message: BrevoErrorResponse.shape.message.optional().catch(undefined),
});

export class BrevoError extends Error {
  readonly retryable: boolean;
  readonly status: number | null;

  constructor(message: string, retryable: boolean, status: number | null) {
    super(message);
    this.name = "BrevoError";
    this.retryable = retryable;
    this.status = status;
  }
}

interface BrevoClientOptions {
  apiUrl: string;
  apiKey: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export async function sendBrevoEmail(
  options: BrevoClientOptions,
  message: BrevoSendEmailRequest,
): Promise<{ messageId: string }> {
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(`${options.apiUrl}/smtp/email`, {
      method: "POST",
      headers: { "api-key": options.apiKey, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    throw new BrevoError(
      `Brevo unreachable: ${error instanceof Error ? error.message : String(error)}`,
      true,
      null,
    );
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // Brevo answers JSON; an HTML error page from a proxy is just a failure below.
  }
  if (response.status === 201 || response.status === 200 || response.status === 202) {
    const accepted = BrevoSendEmailResponse.safeParse(json);
    return { messageId: accepted.success ? accepted.data.messageId : "" };
  }
  const retryable = response.status === 429 || response.status >= 500;
  const refused = RefusalFields.safeParse(json);
  const { code, message: detail } = refused.success ? refused.data : {};
  const reason = `${code ?? response.status}: ${detail ?? text.slice(0, 200)}`;
  throw new BrevoError(`Brevo refused the message (${reason})`, retryable, response.status);
}
