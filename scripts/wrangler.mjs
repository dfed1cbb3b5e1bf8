/**
 * Runs the project's own wrangler (node_modules/wrangler, pinned in package.json) from the
 * npm scripts in this folder. Spawning `node <wrangler bin>` directly rather than `npx
 * wrangler` avoids a second resolution step, works the same on Windows, and fails with a
 * clear message when `npm install` has not been run.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export class WranglerError extends Error {}

let cachedBin;

/** Absolute path of the installed wrangler CLI entry. */
export function wranglerBin() {
  if (cachedBin) return cachedBin;
  const require = createRequire(path.join(PROJECT_ROOT, "package.json"));
  let pkgPath;
  try {
    pkgPath = require.resolve("wrangler/package.json");
  } catch {
    throw new WranglerError("wrangler is not installed in this project. Run `npm install` first.");
  }
  const pkg = require(pkgPath);
  const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.wrangler;
  if (!bin) throw new WranglerError(`Cannot find the wrangler CLI entry in ${pkgPath}.`);
  cachedBin = path.resolve(path.dirname(pkgPath), bin);
  return cachedBin;
}

/** `wrangler a b c` as a user would type it, for messages. */
export function describeCommand(args) {
  return `wrangler ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")}`;
}

/**
 * Runs wrangler and resolves with its exit code and (when `capture`) its output. Never
 * rejects on a non-zero exit: callers decide what a failure means.
 * @param {string[]} args
 * @param {{ capture?: boolean, env?: NodeJS.ProcessEnv }} [options]
 * @returns {Promise<{ code: number, stdout: string, stderr: string }>}
 */
export function runWrangler(args, { capture = false, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wranglerBin(), ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env },
      stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit",
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

/**
 * The JSON document printed by `wrangler ... --json`. Wrangler can print a banner or a
 * warning around it, so on a parse failure the outermost JSON array/object is tried.
 */
export function parseWranglerJson(stdout) {
  const text = stdout.trim();
  try {
    return JSON.parse(text);
  } catch {
    for (const [open, close] of [
      ["[", "]"],
      ["{", "}"],
    ]) {
      const start = text.indexOf(open);
      const end = text.lastIndexOf(close);
      if (start !== -1 && end > start) {
        try {
          return JSON.parse(text.slice(start, end + 1));
        } catch {
          // try the next shape
        }
      }
    }
    return undefined;
  }
}

/** The most useful lines of a failed wrangler run, for an error message. */
export function failureDetails({ stdout, stderr }) {
  const json = parseWranglerJson(stdout);
  const fromJson = json && !Array.isArray(json) && json.error ? json.error.text || json.error.message : "";
  const text = [fromJson, stderr.trim(), fromJson ? "" : stdout.trim()].filter(Boolean).join("\n");
  const lines = text.split("\n");
  return (lines.length > 40 ? ["…", ...lines.slice(-40)] : lines).join("\n");
}

/**
 * Runs `wrangler d1 execute` with `--json` and returns the rows of the last statement.
 * Throws a WranglerError carrying wrangler's own message on failure.
 * @param {string[]} targetArgs where to run: `--local`, `--remote`, `--env X`, `--persist-to D`...
 * @param {string} sql
 */
export async function d1Query(targetArgs, sql) {
  const args = ["d1", "execute", "DB", ...targetArgs, "--json", "--command", sql];
  const result = await runWrangler(args, { capture: true, env: { CI: "true" } });
  const json = parseWranglerJson(result.stdout);
  if (result.code !== 0 || !Array.isArray(json)) {
    throw new WranglerError(`\`${describeCommand(args)}\` failed:\n${failureDetails(result)}`);
  }
  const last = json.at(-1);
  if (last && last.success === false) {
    throw new WranglerError(`\`${describeCommand(args)}\` failed:\n${JSON.stringify(last)}`);
  }
  return last?.results ?? [];
}

/**
 * The bucket of the `MEDIA` binding for this wrangler config and environment (local R2 is
 * stored per bucket name, so the images must go where the dev server will look). A small
 * reader for the project's wrangler.toml: `[[r2_buckets]]` or `[[env.<name>.r2_buckets]]`.
 */
export function mediaBucketName(configPath, envName) {
  const fallback = "ticketsafi-media";
  let text;
  try {
    text = readFileSync(path.resolve(PROJECT_ROOT, configPath ?? "wrangler.toml"), "utf8");
  } catch {
    return fallback;
  }
  const wanted = envName ? `[[env.${envName}.r2_buckets]]` : "[[r2_buckets]]";
  const sections = [];
  let current;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line.startsWith("[")) {
      current = line === wanted ? {} : undefined;
      if (current) sections.push(current);
    } else if (current) {
      const match = line.match(/^(\w+)\s*=\s*"([^"]*)"$/);
      if (match) current[match[1]] = match[2];
    }
  }
  return sections.find((s) => s.binding === "MEDIA")?.bucket_name ?? fallback;
}

/**
 * One plain variable as this wrangler config and environment set it (`[vars]` or
 * `[env.<name>.vars]`, string values only), or undefined. A small reader like
 * `mediaBucketName`: enough for the project's own wrangler.toml.
 */
export function wranglerVar(configPath, envName, name) {
  let text;
  try {
    text = readFileSync(path.resolve(PROJECT_ROOT, configPath ?? "wrangler.toml"), "utf8");
  } catch {
    return undefined;
  }
  const wanted = envName ? `[env.${envName}.vars]` : "[vars]";
  let inside = false;
  let value;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line.startsWith("[")) inside = line === wanted;
    else if (inside) {
      const match = line.match(/^(\w+)\s*=\s*"([^"]*)"$/);
      if (match && match[1] === name) value = match[2];
    }
  }
  return value;
}
