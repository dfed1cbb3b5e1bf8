/**
 * Organizers' webhook receivers at the network edge: hosts that accept TicketSafi's signed
 * POSTs (contract v3 §16.3) and answer as a test scripts them: a status, a redirect, a huge
 * body, a timeout (what `fetch` throws when its AbortSignal.timeout fires) or a network
 * failure. Every request is recorded with its headers and exact body bytes.
 */
import type { FakeUpstream } from "./network";

export type ReceiverAnswer =
  | number
  | { status: number; location?: string; hugeBody?: boolean }
  | "timeout"
  | "network";

export interface ReceivedWebhook {
  url: string;
  host: string;
  headers: Record<string, string>;
  body: string;
}

export class WebhookReceiverFake implements FakeUpstream {
  readonly hosts = ["hooks.receiver.test", "hooks2.receiver.test", "hooks3.receiver.test"];
  readonly received: ReceivedWebhook[] = [];
  private readonly scripts = new Map<string, ReceiverAnswer[]>();
  private readonly defaults = new Map<string, ReceiverAnswer>();

  /** The next answers of `host`, in order; after them, `then` (default 200). */
  script(host: string, answers: ReceiverAnswer[], then: ReceiverAnswer = 200): void {
    this.scripts.set(host, [...answers]);
    this.defaults.set(host, then);
  }

  to(host: string): ReceivedWebhook[] {
    return this.received.filter((r) => r.host === host);
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    this.received.push({
      url: request.url,
      host: url.host,
      headers: Object.fromEntries(request.headers),
      body: await request.text(),
    });
    const answer = this.scripts.get(url.host)?.shift() ?? this.defaults.get(url.host) ?? 200;
    if (answer === "timeout")
      throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
    if (answer === "network") throw new TypeError("Network connection lost.");
    const { status, location, hugeBody } = typeof answer === "number" ? { status: answer } : answer;
    if (hugeBody) {
      // 64 MB of body, streamed: a sender that reads it would take long and hold the memory.
      let sent = 0;
      const chunk = new Uint8Array(1 << 20);
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 64) return controller.close();
          sent++;
          controller.enqueue(chunk);
        },
      });
      return new Response(stream, { status });
    }
    return new Response(status === 204 ? null : "ok", {
      status,
      headers: location ? { Location: location } : {},
    });
  }

  reset(): void {
    this.received.length = 0;
    this.scripts.clear();
    this.defaults.clear();
  }
}
