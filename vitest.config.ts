import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Tests run inside workerd with the real bindings from wrangler.toml (D1, R2, Queues, the
// tier Durable Object). Only the network edge is faked: test/fakes/ answers for Google,
// Brevo and Daraja in their real wire formats (see test/fakes/network.ts).
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        main: "./src/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ENVIRONMENT: "test",
            JWT_SECRET: "test-jwt-secret-0123456789abcdef0123456789abcdef",
            GOOGLE_CLIENT_ID: "ticketsafi-test.apps.googleusercontent.com",
            PUBLIC_BASE_URL: "https://api.ticketsafi.test",
            FRONTEND_URL: "https://ticketsafi.test",
            ALLOWED_ORIGINS: "https://ticketsafi.test",
            MPESA_CALLBACK_TOKEN: "test-callback-token-0123456789abcdef",
            MPESA_PASSKEY: "test-passkey",
            MPESA_RESULT_TOKEN: "test-result-token-0123456789abcdef0123",
            WEBHOOK_SECRET_KEY: "test-webhook-secret-key-0123456789abcdef0123",
            // Tests share a file's D1 (and so the pace's window) and send refunds in bursts on
            // purpose; test/refund-pacing.test.ts sets the contract's 5 a second itself.
            B2C_REQUESTS_PER_SECOND: "1000",
            MPESA_SECURITY_CREDENTIAL: "dGVzdC1zZWN1cml0eS1jcmVkZW50aWFs",
            // Test-only Ed25519 key (PKCS#8 DER, base64) for signing ticket QR codes.
            TICKET_SIGNING_KEY: "MC4CAQAwBQYDK2VwBCIEIFGerDwdhSZkmnqdtGtLOG6//U/gPBmdXmaq9uZGVmv8",
          },
        },
      }),
    ],
    test: {
      setupFiles: ["./test/setup.ts"],
      include: ["test/**/*.test.ts"],
      testTimeout: 30_000,
      // The Worker's one-line-per-request info logs would drown the test report.
      onConsoleLog: (log) => !log.includes('"level":"info"'),
    },
  };
});
