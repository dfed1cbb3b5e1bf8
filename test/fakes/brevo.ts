/** Brevo's transactional email API (`POST /v3/smtp/email`), with its real answers and errors. */
import {
  type BrevoErrorResponse,
  BrevoSendEmailRequest,
  type BrevoSendEmailResponse,
} from "../../src/integrations/brevo";
import type { FakeUpstream } from "./network";

interface BrevoRequestRecord {
  apiKey: string | null;
  /** The request body exactly as sent (unknown keys kept), once it passed the client's own schema. */
  body: BrevoSendEmailRequest;
}

function refusal(status: number, body: BrevoErrorResponse): Response {
  return Response.json(body, { status });
}

export class BrevoFake implements FakeUpstream {
  readonly hosts = ["api.brevo.com"];
  readonly validKey = "xkeysib-test-key";
  readonly sent: BrevoRequestRecord[] = [];
  /** Statuses to answer with before succeeding (e.g. [500, 503] = two failures first). */
  failures: number[] = [];

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "POST" || url.pathname !== "/v3/smtp/email") {
      return refusal(404, { code: "not_found", message: "Invalid route" });
    }
    const apiKey = request.headers.get("api-key");
    if (apiKey !== this.validKey) return refusal(401, { code: "unauthorized", message: "Key not found" });
    const failure = this.failures.shift();
    if (failure !== undefined) {
      return refusal(failure, { code: "internal_error", message: "Temporary failure" });
    }
    let json: unknown;
    try {
      json = await request.json();
    } catch {
      return refusal(400, { code: "bad_request", message: "Input must be a valid JSON object" });
    }
    const parsed = BrevoSendEmailRequest.safeParse(json);
    if (!parsed.success) {
      return refusal(400, {
        code: "invalid_parameter",
        message: "sender, to, subject and content are required",
      });
    }
    this.sent.push({ apiKey, body: json as BrevoSendEmailRequest });
    const accepted: BrevoSendEmailResponse = {
      messageId: `<${Date.now()}.${this.sent.length}@smtp-relay.mailin.fr>`,
    };
    return Response.json(accepted, { status: 201 });
  }

  reset(): void {
    this.sent.length = 0;
    this.failures = [];
  }
}
