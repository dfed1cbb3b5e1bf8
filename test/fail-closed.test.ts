/**
 * A deployment fails closed (contract §9): an ENVIRONMENT that is not exactly one of the four
 * names, or a short secret outside development, refuses every request, queue batch and cron
 * tick, and the dev-only conveniences (outbox, simulator, fallback JWT key) exist only for
 * an explicit development or test.
 */
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError, loadConfig } from "../src/config";
import worker from "../src/index";
import { BASE_URL } from "./helpers/client";

const LONG = "x".repeat(32);

function configFor(vars: Partial<Record<keyof Env, string>>) {
  return () => loadConfig({ ...env, ...vars } as Env);
}

async function fetchWith(vars: Partial<Record<keyof Env, string>>, path = "/api/health/") {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${BASE_URL}${path}`), { ...env, ...vars } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

afterEach(() => vi.restoreAllMocks());

describe("ENVIRONMENT is exactly one of four names", () => {
  for (const bad of ["Production", "prod", "production ", "staging", ""]) {
    it(`refuses ${JSON.stringify(bad)} in config`, () => {
      expect(configFor({ ENVIRONMENT: bad })).toThrow(ConfigError);
    });
  }

  it("accepts the four names", () => {
    for (const name of ["development", "test", "preview", "production"]) {
      expect(loadConfig({ ...env, ENVIRONMENT: name, MPESA_CONSUMER_KEY: "k" } as Env).environment).toBe(
        name,
      );
    }
  });

  it("every request answers a JSON 500 and one error log line naming the problem", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    for (const path of ["/api/health/", "/api/events/", "/__dev/outbox/", "/no/such/route/"]) {
      const response = await fetchWith({ ENVIRONMENT: "Production" }, path);
      expect(response.status, path).toBe(500);
      expect(response.headers.get("content-type")).toMatch(/application\/json/);
      expect(await response.json()).toEqual({ detail: "Service misconfigured: refusing to serve." });
    }
    const lines = errors.mock.calls.map((call) => String(call[0]));
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      const parsed = JSON.parse(line);
      expect(parsed.level).toBe("error");
      expect(parsed.reason).toMatch(/ENVIRONMENT must be one of development, test, preview, production/);
    }
  });

  it("the queue consumer refuses: nothing acknowledged, every job retried", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const batch = createMessageBatch<unknown>("ticket-delivery", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { kind: "nonsense" } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<never>, { ...env, ENVIRONMENT: "Production" } as Env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryBatch.retry).toBe(true);
  });

  it("the cron tick refuses: logs once and runs no step", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const ctx = createExecutionContext();
    const controller = { scheduledTime: Date.now(), cron: "* * * * *", noRetry() {} } as ScheduledController;
    await worker.scheduled(controller, { ...env, ENVIRONMENT: "staging" } as Env, ctx);
    await waitOnExecutionContext(ctx);
    expect(errors.mock.calls.map((call) => JSON.parse(String(call[0])).message)).toEqual([
      "refusing to run: invalid configuration",
    ]);
  });
});

describe("secrets outside development", () => {
  for (const environment of ["test", "preview", "production"]) {
    it(`${environment}: JWT_SECRET shorter than 32 refuses (no fallback key)`, () => {
      expect(configFor({ ENVIRONMENT: environment, JWT_SECRET: "short" })).toThrow(/JWT_SECRET/);
      expect(configFor({ ENVIRONMENT: environment, JWT_SECRET: undefined })).toThrow(/JWT_SECRET/);
    });
    it(`${environment}: MPESA_CALLBACK_TOKEN shorter than 32 refuses`, () => {
      expect(configFor({ ENVIRONMENT: environment, MPESA_CALLBACK_TOKEN: "x".repeat(31) })).toThrow(
        /MPESA_CALLBACK_TOKEN/,
      );
    });
  }

  it("preview with a short JWT secret answers 500 over HTTP", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect((await fetchWith({ ENVIRONMENT: "preview", JWT_SECRET: "short" })).status).toBe(500);
  });

  it("development keeps its fallback key and needs no callback token", () => {
    const config = loadConfig({
      ...env,
      ENVIRONMENT: "development",
      JWT_SECRET: "",
      MPESA_CALLBACK_TOKEN: "",
    } as Env);
    expect(config.jwtSecret.length).toBeGreaterThanOrEqual(32);
  });
});

describe("outbox and simulator exist only for development and test", () => {
  for (const environment of ["development", "test"]) {
    it(`${environment}: on without upstream keys`, () => {
      const config = loadConfig({
        ...env,
        ENVIRONMENT: environment,
        MPESA_CONSUMER_KEY: "",
        BREVO_API_KEY: "",
      } as Env);
      expect(config.mail.useOutbox).toBe(true);
      expect(config.mpesa.useSimulator).toBe(true);
    });
  }

  it("preview: off even without upstream keys", async () => {
    const vars = { ENVIRONMENT: "preview", JWT_SECRET: LONG, MPESA_CONSUMER_KEY: "", BREVO_API_KEY: "" };
    const config = loadConfig({ ...env, ...vars } as Env);
    expect(config.mail.useOutbox).toBe(false);
    expect(config.mpesa.useSimulator).toBe(false);
    expect((await fetchWith(vars, "/__dev/outbox/")).status).toBe(404);
  });
});
