/**
 * Where a flash-sale run keeps its files: a throwaway folder (bench/.state/flash-sale,
 * gitignored; the dev database under .wrangler/state is never touched) holding the local
 * state, the source snapshot, its builds and the server logs.
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../../scripts/wrangler.mjs";

export const BENCH_DIR = path.join(PROJECT_ROOT, "bench");
/**
 * The run's folder under bench/.state: `flash-sale`, or the name another benchmark built on
 * these modules sets in `TICKETSAFI_BENCH_RUN` (bench:latency), so two runs never share state.
 */
export const RUN_NAME = process.env.TICKETSAFI_BENCH_RUN || "flash-sale";
export const ROOT_DIR = path.join(BENCH_DIR, ".state", RUN_NAME);
export const STATE_DIR = path.join(ROOT_DIR, "state");
/**
 * The code under test, copied and built once at the start, then served without bundling:
 * `wrangler dev` rebuilds and restarts the Worker whenever a file of its build changes (src/,
 * but also package.json or node_modules), failing every POST in flight with "Your worker
 * restarted mid-request", and other people edit this tree while the benchmark runs.
 */
export const SNAPSHOT_DIR = path.join(ROOT_DIR, "snapshot");
export const SNAPSHOT_CONFIG = path.join(SNAPSHOT_DIR, "wrangler.toml");

/** `wrangler d1 …` arguments for the run's local D1. */
export const TARGET = ["-c", SNAPSHOT_CONFIG, "--local", "--persist-to", STATE_DIR];

/** An empty folder for the run (the previous run's state, snapshot and logs go). */
export function resetState() {
  rmSync(ROOT_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });
}

/** Keep only the server logs; the state, the source snapshot and its builds go. */
export function removeStateKeepingLogs() {
  for (const name of readdirSync(ROOT_DIR)) {
    if (!name.endsWith(".log")) rmSync(path.join(ROOT_DIR, name), { recursive: true, force: true });
  }
}
