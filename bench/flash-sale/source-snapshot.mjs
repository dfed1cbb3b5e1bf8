/**
 * The code under test, copied and built once before the run (see SNAPSHOT_DIR in
 * layout.mjs for why), and what it is: commit, uncommitted changes, a hash of src/.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../../scripts/wrangler.mjs";
import { log, wrangler } from "../common.mjs";
import { BENCH_DIR, ROOT_DIR, SNAPSHOT_CONFIG, SNAPSHOT_DIR } from "./layout.mjs";

/**
 * Copies what wrangler builds (src/, migrations/, wrangler.toml, and the bench Workers) into
 * the state folder: `wrangler dev` watches its sources and restarts the Worker when a file
 * changes, which would fail every request in flight when someone edits src/ during a run.
 * Node modules still resolve from the project (the copy lives inside it).
 */
export function snapshotSource() {
  rmSync(SNAPSHOT_DIR, { recursive: true, force: true });
  for (const entry of ["src", "migrations", "wrangler.toml", "tsconfig.json"]) {
    cpSync(path.join(PROJECT_ROOT, entry), path.join(SNAPSHOT_DIR, entry), { recursive: true });
  }
  // The bench-only Workers built from the same snapshot.
  for (const worker of ["checkout-timing", "latency"]) {
    cpSync(path.join(BENCH_DIR, worker), path.join(SNAPSHOT_DIR, "bench", worker), { recursive: true });
  }
  const hash = createHash("sha256");
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else hash.update(path.relative(SNAPSHOT_DIR, file)).update("\0").update(readFileSync(file));
    }
  };
  walk(path.join(SNAPSHOT_DIR, "src"));
  const git = (...args) => {
    try {
      return execFileSync("git", args, {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    } catch {
      return "";
    }
  };
  const changed = git("status", "--porcelain", "--", "src", "migrations", "wrangler.toml")
    .split("\n")
    .filter(Boolean).length;
  return {
    commit: git("rev-parse", "--short", "HEAD") || "unknown",
    changed,
    srcHash: hash.digest("hex").slice(0, 12),
  };
}

/**
 * Bundles the Worker of `config` once (`wrangler deploy --dry-run --outdir`) and returns a
 * config that serves that bundle as is (`no_bundle`, its wasm and font modules found next to
 * it), so nothing the dev server watches can change during the run.
 */
export async function buildWorker(config, name) {
  const outDir = path.join(ROOT_DIR, `build-${name}`);
  rmSync(outDir, { recursive: true, force: true });
  await wrangler(["deploy", "--dry-run", "--outdir", outDir, "-c", config]);
  const text = readFileSync(config, "utf8");
  // The bundle is named after the entry module: src/index.ts → index.js.
  const main = /^main\s*=\s*"([^"]+)"/m.exec(text)?.[1] ?? "index.js";
  const entry = path.join(outDir, `${path.basename(main).replace(/\.[^.]+$/, "")}.js`);
  if (!existsSync(entry)) throw new Error(`wrangler deploy --dry-run wrote no ${entry}`);
  const built = path.join(SNAPSHOT_DIR, `wrangler.${name}.built.toml`);
  // The bundle names each additional module `<content hash>-<file name>`: a rule glob naming
  // a file exactly (`**/swagger-ui.css`) must also match its hashed copy.
  const rules = text.replace(/"\*\*\/([^"*/]+)"/g, '"**/$1", "**/*-$1"');
  writeFileSync(
    built,
    rules.replace(
      /^main\s*=.*$/m,
      [
        `main = ${JSON.stringify(entry)}`,
        "no_bundle = true",
        "find_additional_modules = true",
        `base_dir = ${JSON.stringify(outDir)}`,
      ].join("\n"),
    ),
    "utf8",
  );
  return built;
}

/**
 * The snapshot of the source and the API built from it.
 * @returns {{ source: { commit: string, changed: number, srcHash: string }, builtConfig: string }}
 */
export async function prepareSource() {
  const source = snapshotSource();
  const builtConfig = await buildWorker(SNAPSHOT_CONFIG, "api");
  log(
    `✔ Source snapshot: commit ${source.commit}${source.changed ? ` + ${source.changed} uncommitted change(s) in src/, migrations/, wrangler.toml` : ""}, src/ sha256 ${source.srcHash}`,
  );
  return { source, builtConfig };
}
