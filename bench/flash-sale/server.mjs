/**
 * The servers of a run: the local fake Daraja's credentials, the Worker's throwaway secrets
 * and vars, and `wrangler dev` (or, with `--inspector off`, the same runtime without the
 * inspector; with `--direct`, Miniflare directly: one workerd, no dev proxy) on that state; every server started here is stopped on Ctrl-C too.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { startDevServer, stopDevServer } from "../dev-server.mjs";
import { ROOT_DIR, STATE_DIR } from "./layout.mjs";

export const HOLD_SECONDS = 600;
export const DARAJA = {
  shortcode: "174379",
  consumerKey: "bench",
  consumerSecret: "bench",
  passkey: "bench",
};

/**
 * For the bench's own `wrangler dev`: a private dev registry (every `wrangler dev` on the
 * machine shares ~/.config/.wrangler/registry, and another instance of this Worker starting
 * or stopping there reloads ours, failing the POSTs in flight with "Your worker restarted
 * mid-request"), and no config-file watching (the source is a snapshot anyway).
 */
export const DEV_ENV = {
  WRANGLER_REGISTRY_PATH: path.join(ROOT_DIR, "registry"),
  WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true",
};

/** Throwaway secrets for this run, in an env file (which also keeps .dev.vars out of the run). */
export function writeSecrets() {
  const { privateKey } = generateKeyPairSync("ed25519");
  const secrets = {
    JWT_SECRET: randomBytes(32).toString("hex"),
    TICKET_SIGNING_KEY: privateKey.export({ type: "pkcs8", format: "der" }).toString("base64"),
    BREVO_API_KEY: "",
  };
  const file = path.join(ROOT_DIR, "bench.env");
  writeFileSync(
    file,
    `${Object.entries(secrets)
      .map(([k, v]) => `${k}="${v}"`)
      .join("\n")}\n`,
    { encoding: "utf8", mode: 0o600 },
  );
  return { file, callbackToken: randomBytes(24).toString("base64url") };
}

/** The Worker's vars for the run: the real Daraja client pointed at the fake. */
function devVars(baseUrl, daraja, secrets, extraVars = {}) {
  return {
    ...extraVars,
    PUBLIC_BASE_URL: baseUrl,
    MPESA_BASE_URL: daraja.baseUrl,
    MPESA_SHORTCODE: DARAJA.shortcode,
    MPESA_CONSUMER_KEY: DARAJA.consumerKey,
    MPESA_CONSUMER_SECRET: DARAJA.consumerSecret,
    MPESA_PASSKEY: DARAJA.passkey,
    MPESA_CALLBACK_TOKEN: secrets.callbackToken,
    HOLD_SECONDS: extraVars.HOLD_SECONDS ?? String(HOLD_SECONDS),
  };
}

/**
 * How to start the server: `wrangler dev -c <built config> --env-file … --var NAME:VALUE …`,
 * or (`--inspector off`) the same through wrangler's programmatic API without the inspector, or
 * (`--direct`) the built bundle in Miniflare directly (bench/direct-worker.mjs).
 */
function serverOptions(config, daraja, secrets, opts, extraVars) {
  if (opts.direct || opts.inspector === "off") {
    return {
      programmatic: (baseUrl) => ({
        ...(opts.direct ? { runtime: "direct" } : {}),
        config,
        envFile: secrets.file,
        vars: devVars(baseUrl, daraja, secrets, extraVars),
        inspector: false,
        logLevel: opts.logLevel,
      }),
    };
  }
  return {
    args: (baseUrl) => [
      "-c",
      config,
      "--env-file",
      secrets.file,
      ...Object.entries(devVars(baseUrl, daraja, secrets, extraVars)).flatMap(([name, value]) => [
        "--var",
        `${name}:${value}`,
      ]),
      "--log-level",
      opts.logLevel,
    ],
  };
}

/** Servers to stop if the run is interrupted (Ctrl-C). */
const running = new Set();

async function interrupted() {
  for (const server of running) await stopDevServer(server);
  process.exit(130);
}

/** From here until `releaseInterrupts()`, Ctrl-C (or SIGTERM) stops the servers and exits. */
export function catchInterrupts() {
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
}

export function releaseInterrupts() {
  process.off("SIGINT", interrupted);
  process.off("SIGTERM", interrupted);
}

/**
 * Starts the Worker of `config` on the run's state, its output in `bench/.state/flash-sale/<logName>`.
 * `extraVars` are added to the Worker's vars (e.g. bench:latency's modelled round trips).
 * @param {{ config: string, daraja: { baseUrl: string }, secrets: { file: string, callbackToken: string }, opts: { inspector: string, logLevel: string, direct?: boolean }, logName: string, readyPath?: string, extraVars?: Record<string, string> }} options
 */
export async function startServer({ config, daraja, secrets, opts, logName, readyPath, extraVars }) {
  const server = await startDevServer({
    persistTo: STATE_DIR,
    logFile: path.join(ROOT_DIR, logName),
    env: DEV_ENV,
    redact: [secrets.callbackToken],
    ...(readyPath ? { readyPath } : {}),
    ...serverOptions(config, daraja, secrets, opts, extraVars),
  });
  running.add(server);
  return server;
}

/** Stops a server started by `startServer()`; false when some of its processes did not exit. */
export async function stopServer(server) {
  const stopped = await stopDevServer(server);
  running.delete(server);
  return stopped;
}
