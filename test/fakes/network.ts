/**
 * The network edge for tests. The Worker runs in the same isolate as the tests, so the
 * global `fetch` is swapped for a router that hands each request to a fake upstream by host.
 * The fakes speak the providers' real wire formats (../shared/docs/upstreams.md); a request
 * to any other host fails, so no test can silently depend on the internet.
 */
import { BrevoFake } from "./brevo";
import { DarajaFake } from "./daraja";
import { GoogleFake } from "./google";
import { WebhookReceiverFake } from "./webhook-receiver";

export interface FakeUpstream {
  readonly hosts: string[];
  handle(request: Request): Promise<Response>;
  reset(): void;
}

class NetworkFakes {
  readonly google = new GoogleFake();
  readonly brevo = new BrevoFake();
  readonly daraja = new DarajaFake();
  readonly receivers = new WebhookReceiverFake();
  private readonly upstreams: FakeUpstream[] = [this.google, this.brevo, this.daraja, this.receivers];
  private installed = false;
  /** Every outbound request, in order (url + method), for assertions. */
  readonly requests: Array<{ method: string; url: string }> = [];

  install(): void {
    if (this.installed) return;
    this.installed = true;
    const route = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const request = new Request(input, init);
      const host = new URL(request.url).host;
      this.requests.push({ method: request.method, url: request.url });
      const upstream = this.upstreams.find((u) => u.hosts.includes(host));
      if (!upstream) throw new TypeError(`network disabled in tests: no fake for ${host}`);
      if (request.signal?.aborted) throw new DOMException("The operation was aborted.", "AbortError");
      return upstream.handle(request);
    };
    globalThis.fetch = route as typeof fetch;
  }

  resetRecords(): void {
    this.requests.length = 0;
    for (const upstream of this.upstreams) upstream.reset();
  }
}

export const networkFakes = new NetworkFakes();
