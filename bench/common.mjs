/**
 * What the benchmark scripts (listing, gate, flash-sale) share besides the server
 * (dev-server.mjs) and the load (load.mjs, http-json.mjs):
 *
 * - `log()` / `step()`: progress lines;
 * - `parseOptions()`: the script's own flags plus `--no-record`, `--note` and `--help` (which
 *   prints the "Options" part of the script's header comment), and integer options that fall
 *   back to an environment variable;
 * - `wrangler()`: a wrangler command that must succeed, non-interactive; `d1File()`: SQL
 *   written to a scratch file and run with `wrangler d1 execute --file`;
 * - `sleep()`;
 * - `describeMachine()`: CPUs, memory, load average, Node and wrangler versions for a report;
 * - `fmt()` / `verdict()`: figures and target verdicts in a report;
 * - `appendResults()`: a run's figures appended to bench/results/<name>.md;
 * - `bundleSource()`: modules of src/ bundled for Node with wrangler's own esbuild, so a
 *   benchmark runs the real code (e.g. the ticket signer) instead of a copy of it.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  describeCommand,
  failureDetails,
  PROJECT_ROOT,
  parseWranglerJson,
  runWrangler,
  wranglerBin,
} from "../scripts/wrangler.mjs";

export const NON_INTERACTIVE = { CI: "true", WRANGLER_SEND_METRICS: "false" };

export const log = (message = "") => console.log(message);
export const step = (message) => console.log(`\n▶ ${message}`);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Parses the command line. `--help` prints the script's "Options" comment and exits.
 * @param {string} scriptUrl the script's `import.meta.url`
 * @param {import("node:util").ParseArgsConfig["options"]} options the script's own flags
 * @returns the parsed `values`; `number(flag, env, fallback, min)`, an integer flag or
 *   environment variable (`fallback` when neither is set); `record` (no `--no-record`) and `note`
 */
export function parseOptions(scriptUrl, options) {
  const { values } = parseArgs({
    options: {
      ...options,
      "no-record": { type: "boolean", default: false },
      note: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    const source = readFileSync(new URL(scriptUrl), "utf8");
    log(source.slice(source.indexOf("Options"), source.indexOf("*/")).replace(/^ \* ?/gm, ""));
    process.exit(0);
  }
  const number = (flag, env, fallback, min) => {
    const text = values[flag] ?? process.env[env];
    if (text === undefined || text === "") return fallback;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min)
      throw new Error(`--${flag} (${env}) must be an integer ≥ ${min}`);
    return n;
  };
  return { values, number, record: !values["no-record"], note: values.note ?? "" };
}

/** Runs wrangler (output captured); throws with wrangler's own message unless it exits 0. */
export async function wrangler(args) {
  const result = await runWrangler(args, { capture: true, env: NON_INTERACTIVE });
  if (result.code !== 0) {
    throw new Error(`\`${describeCommand(args)}\` failed (exit ${result.code}):\n${failureDetails(result)}`);
  }
  return result;
}

/**
 * `wrangler d1 execute DB <target> --yes [--json] --file <file>`: `sql` is written to `file`
 * (a scratch file, removed once wrangler succeeded) and run.
 * @param {string[]} target where to run, e.g. `["--local", "--persist-to", dir]`
 * @returns with `json`, wrangler's JSON: one result with its `meta` per statement; without,
 *   wrangler's output
 */
export async function d1File(target, file, sql, { json = false } = {}) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, sql, "utf8");
  const result = await wrangler([
    "d1",
    "execute",
    "DB",
    ...target,
    "--yes",
    ...(json ? ["--json"] : []),
    "--file",
    file,
  ]);
  rmSync(file, { force: true });
  return json ? parseWranglerJson(result.stdout) : result;
}

/** The machine and the software under test, for a report (`nproc` honours a cgroup v2 CPU limit). */
export function describeMachine() {
  const cpus = os.cpus();
  let nproc = os.availableParallelism?.() ?? cpus.length;
  try {
    const text = readFileSync("/sys/fs/cgroup/cpu.max", "utf8").trim().split(" ");
    if (text[0] !== "max") nproc = Math.min(nproc, Math.ceil(Number(text[0]) / Number(text[1])));
  } catch {
    // no cgroup v2 limit
  }
  const wranglerVersion = JSON.parse(
    readFileSync(path.join(path.dirname(wranglerBin()), "..", "package.json"), "utf8"),
  ).version;
  return {
    nproc,
    cpu: cpus[0]?.model?.trim() ?? "unknown",
    memoryGiB: os.totalmem() / 2 ** 30,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg(),
    node: process.version,
    wrangler: wranglerVersion,
  };
}

export const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
export const verdict = (ok) => (ok ? "met" : "**missed**");

/**
 * Appends `text` to bench/results/<name>.md, creating it with a title if it is missing.
 * @param {string} name the benchmark: `npm run bench:<name>`, bench/<name>.mjs
 * @param {string} title its name in the file's title, e.g. "Flash-sale"
 */
export function appendResults(name, title, text) {
  const file = path.join(PROJECT_ROOT, "bench", "results", `${name}.md`);
  mkdirSync(path.dirname(file), { recursive: true });
  if (!existsSync(file)) {
    writeFileSync(
      file,
      `# ${title} benchmark results\n\nAppended by \`npm run bench:${name}\` (bench/${name}.mjs), newest last.\n\n`,
      "utf8",
    );
  }
  appendFileSync(file, `${text}\n`, "utf8");
  log(`✔ Appended to ${path.relative(PROJECT_ROOT, file)}`);
}

/**
 * Bundle `contents` (an ES module of `export … from "./src/…"` lines, resolved from the
 * project root) for Node into `outfile` and import it. esbuild is wrangler's own copy: no new
 * dependency.
 */
export async function bundleSource(contents, outfile) {
  const requireFromWrangler = createRequire(
    createRequire(path.join(PROJECT_ROOT, "package.json")).resolve("wrangler/package.json"),
  );
  const esbuild = requireFromWrangler("esbuild");
  mkdirSync(path.dirname(outfile), { recursive: true });
  await esbuild.build({
    stdin: { contents, resolveDir: PROJECT_ROOT, loader: "ts" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outfile,
    logLevel: "silent",
  });
  // A fresh URL each time, so a re-bundle within one process is not served from the cache.
  return import(`${pathToFileURL(outfile).href}?t=${Date.now()}`);
}
