/** Brevo's transactional email API (`POST /v3/smtp/email`), with its real answers and errors. */
import type { FakeUpstream } from "./network";

export interface BrevoRequestRecord {
  apiKey: string | null;
  body: {
    sender?: { name?: string; email?: string };
    to?: Array<{ email: string; name?: string }>;
    subject?: string;
    htmlContent?: string;
    textContent?: string;
    attachment?: Array<{ name: string; content: string }>;
    headers?: Record<string, string>;
    tags?: string[];
  };
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
      return Response.json({ code: "not_found", message: "Invalid route" }, { status: 404 });
    }
    const apiKey = request.headers.get("api-key");
    if (apiKey !== this.validKey)
      return Response.json({ code: "unauthorized", message: "Key not found" }, { status: 401 });
    const failure = this.failures.shift();
    if (failure !== undefined) {
      return Response.json({ code: "internal_error", message: "Temporary failure" }, { status: failure });
    }
    let body: BrevoRequestRecord["body"];
    try {
      body = (await request.json()) as BrevoRequestRecord["body"];
    } catch {
      return Response.json(
        { code: "bad_request", message: "Input must be a valid JSON object" },
        { status: 400 },
      );
    }
    if (!body.sender?.email || !body.to?.length || !body.subject || !(body.htmlContent || body.textContent)) {
      return Response.json(
        { code: "invalid_parameter", message: "sender, to, subject and content are required" },
        { status: 400 },
      );
    }
    this.sent.push({ apiKey, body });
    return Response.json(
      { messageId: `<${Date.now()}.${this.sent.length}@smtp-relay.mailin.fr>` },
      { status: 201 },
    );
  }

  reset(): void {
    this.sent.length = 0;
    this.failures = [];
  }
}
