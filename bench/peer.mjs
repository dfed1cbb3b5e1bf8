/**
 * `npm run bench:peer` (issue #15 part 5, FIRST CUT, NOT YET RUN END TO END): the Django + DRF +
 * PostgreSQL peer (../shared/peers/django-seed) and our Worker, interleaved peer → us → peer → us,
 * with the peer's parameters: 2,000 buyers, 500 seats, 64 in flight (bench.sh R, FLASH_CAPACITY, K).
 *
 * - peer: `bench.sh` with WRK_SECONDS=0 (its run.sh starts PostgreSQL + gunicorn; Debian packages
 *   python3-django python3-djangorestframework python3-psycopg2 gunicorn postgresql wrk);
 * - us: `bench/flash-sale.mjs --inspector off` (workerd through wrangler's programmatic API without
 *   the DevTools inspector; wrangler's dev proxy is still in front) and `bench/listing.mjs`.
 *
 * Not done yet: our listing bench does not take the peer's query (`q=jazz&min_price=1000`), and
 * the ratios are not computed: this prints the peer's figures and our benches' own reports.
 *
 * Options
 *   --rounds N   peer/us pairs (default 2)
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { PROJECT_ROOT } from "../scripts/wrangler.mjs";
import { log, parseOptions, step } from "./common.mjs";

const { number } = parseOptions(import.meta.url, { rounds: { type: "string" } });
const rounds = number("rounds", "PEER_ROUNDS", 2, 1);
const PEER = path.resolve(PROJECT_ROOT, "..", "shared", "peers", "django-seed");
const R = 2000;
const K = 64;
const SEATS = 500;

function run(command, args, env = {}) {
  const result = spawnSync(command, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed:\n${result.stderr}`);
  return result.stdout;
}

const grab = (text, rx) => Number(rx.exec(text)?.[1]);
for (let round = 1; round <= rounds; round++) {
  step(`Round ${round}: peer`);
  const peer = run("bash", [path.join(PEER, "bench.sh")], {
    R: String(R),
    K: String(K),
    FLASH_CAPACITY: String(SEATS),
    WRK_SECONDS: "0",
  });
  log(
    `peer: purchases/s ${grab(peer, /purchases\/s\s+:\s+([\d.]+)/)}, oversold ${grab(peer, /OVERSOLD\s+:\s+(\d+)/)}, listing ${grab(peer, /\(b\) LISTING[\s\S]*?throughput\s+:\s+([\d.]+)/)} req/s`,
  );
  step(`Round ${round}: us`);
  log(
    run(process.execPath, [
      "bench/flash-sale.mjs",
      "--inspector",
      "off",
      "--buyers",
      String(R),
      "--seats",
      String(SEATS),
      "--concurrency",
      String(K),
      "--three-tier",
      "off",
      "--no-record",
    ]),
  );
  log(
    run(process.execPath, [
      "bench/listing.mjs",
      "--requests",
      String(R),
      "--concurrency",
      String(K),
      "--no-record",
    ]),
  );
}
