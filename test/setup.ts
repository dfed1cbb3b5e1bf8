import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach } from "vitest";
import { networkFakes } from "./fakes/network";

// Migrations are idempotent: applied once per test file's storage.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// Every outbound request goes to the fakes; anything unexpected fails loudly.
networkFakes.install();
beforeEach(() => networkFakes.resetRecords());
