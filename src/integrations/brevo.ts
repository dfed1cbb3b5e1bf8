/**
 * Brevo transactional email over HTTP (`POST {BREVO_API_URL}/smtp/email`). A small client:
 * it sends one message and classifies failures so the queue consumer knows whether a
 * retry can help (429, 5xx, network) or not (other 4xx: bad address, bad key, no credits).
 */

export interface BrevoMessage {
  sender: { name: string; email: string };
  to: Array<{ email: string; name?: string }>;
  subject: string;
  htmlContent: string;
  textContent: string;
  attachment?: Array<{ name: string; content: string }>;
  headers?: Record<string, string>;
  tags?: string[];
}

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

export interface BrevoClientOptions {
  apiUrl: string;
  apiKey: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export async function sendBrevoEmail(
  options: BrevoClientOptions,
  message: BrevoMessage,
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
  let body: { messageId?: unknown; code?: unknown; message?: unknown } = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    // Brevo answers JSON; an HTML error page from a proxy is just a failure below.
  }
  if (response.status === 201 || response.status === 200 || response.status === 202) {
    return { messageId: typeof body.messageId === "string" ? body.messageId : "" };
  }
  const retryable = response.status === 429 || response.status >= 500;
  const reason = `${typeof body.code === "string" ? body.code : response.status}: ${typeof body.message === "string" ? body.message : text.slice(0, 200)}`;
  throw new BrevoError(`Brevo refused the message (${reason})`, retryable, response.status);
}
