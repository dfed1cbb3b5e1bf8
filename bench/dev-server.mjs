/**
 * `wrangler dev` for a benchmark, and CPU accounting while it runs.
 *
 * - `freePort()`: a port nobody listens on (asked from the kernel).
 * - `startDevServer()`: `wrangler dev` in its own process group on a free port with the given
 *   persist dir and extra arguments, output to a log file, resolved once `readyPath`
 *   (default `/api/health/`) answers 200. `stopDevServer()` stops the whole group (wrangler and its workerd children):
 *   SIGINT, then SIGTERM, then SIGKILL, and waits for it to be gone.
 * - `cpuSnapshot()` / `cpuDelta()`: CPU seconds per process of the server's tree (Linux /proc),
 *   of this process, and of everything else on the machine (or the machine's idle and steal
 *   time), so a figure taken on a shared machine says how much of the CPU the benchmark
 *   actually had; and the pids and resident memory per process kind, so a runtime restarted
 *   (or growing) during a run shows.
 */
import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describeCommand, PROJECT_ROOT, wranglerBin } from "../scripts/wrangler.mjs";
import { NON_INTERACTIVE, sleep } from "./common.mjs";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * `runtime: "direct"` starts bench/direct-worker.mjs (Miniflare directly: one workerd, no dev
 * proxy, no inspector; `config` must name a built bundle) instead of bench/dev-worker.mjs.
 * @typedef {{ config: string, vars?: Record<string, string>, envFile?: string, inspector?: false, logLevel?: string, runtime?: "direct" }} DevWorkerSpec
 */

/**
 * @param {{
 *   persistTo: string,
 *   logFile: string,
 *   args?: string[] | ((baseUrl: string) => string[]),
 *   env?: NodeJS.ProcessEnv,
 *   redact?: string[],
 *   programmatic?: DevWorkerSpec | ((baseUrl: string) => DevWorkerSpec),
 *   readyPath?: string,
 *   startTimeoutMs?: number,
 *   announce?: (command: string, baseUrl: string) => void,
 * }} options `args` (or `args(baseUrl)`) are added after `dev --ip --port --inspector-port
 *   --persist-to`; `env`: added to this process's environment and wrangler's non-interactive
 *   settings; `redact`: strings not to print (secrets passed with `--var`); `programmatic`:
 *   start the Worker with wrangler's programmatic API instead (bench/dev-worker.mjs), e.g.
 *   without the inspector, in which case `args` are ignored; `announce`: prints the command
 *   (redacted) before it starts (default: the command, indented).
 */
export async function startDevServer({
  persistTo,
  logFile,
  args: extra = [],
  env = {},
  redact = [],
  programmatic,
  readyPath = "/api/health/",
  startTimeoutMs = 120_000,
  announce = (command) => console.log(`  ${command}`),
}) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistTo,
    ...(typeof extra === "function" ? extra(baseUrl) : extra),
  ];
  let command;
  let shown;
  if (programmatic) {
    // Wrangler's programmatic API in a child process (bench/dev-worker.mjs): the same runtime,
    // with options the CLI does not have (no inspector).
    const spec = {
      ...(typeof programmatic === "function" ? programmatic(baseUrl) : programmatic),
      port,
      inspectorPort,
      persist: persistTo,
    };
    const script = spec.runtime === "direct" ? "direct-worker.mjs" : "dev-worker.mjs";
    command = [path.join(path.dirname(fileURLToPath(import.meta.url)), script), JSON.stringify(spec)];
    shown = `node bench/${script} ${JSON.stringify({ ...spec, vars: Object.keys(spec.vars ?? {}) })}`;
  } else {
    command = [wranglerBin(), ...args];
    shown = describeCommand(args);
  }
  for (const secret of redact) if (secret) shown = shown.replaceAll(secret, "<redacted>");
  announce(shown, baseUrl);
  mkdirSync(path.dirname(logFile), { recursive: true });
  writeFileSync(logFile, "");
  const child = spawn(process.execPath, command, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...NON_INTERACTIVE, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout.on("data", (chunk) => appendFileSync(logFile, chunk));
  child.stderr.on("data", (chunk) => appendFileSync(logFile, chunk));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const direct = programmatic !== undefined && command[0].endsWith("direct-worker.mjs");
  const server = { child, baseUrl, port, logFile, exited, startedAt: Date.now(), direct };

  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `wrangler dev exited early; see ${logFile}:\n${readFileSync(logFile, "utf8").slice(-3000)}`,
      );
    }
    try {
      const response = await fetch(`${baseUrl}${readyPath}`, { signal: AbortSignal.timeout(5000) });
      await response.arrayBuffer();
      if (response.status === 200) {
        server.readyMs = Date.now() - server.startedAt;
        return server;
      }
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  await stopDevServer(server);
  throw new Error(
    `wrangler dev did not answer /api/health/ within ${startTimeoutMs / 1000} s; see ${logFile}`,
  );
}

/** Pids of `rootPid` and all its descendants (among `all`, the processes running now). */
function treePids(rootPid, all = listProcesses()) {
  const tree = new Set([rootPid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return tree;
}

/** Stops wrangler dev and every process it started; resolves once they are gone. */
export async function stopDevServer(server) {
  const { child, exited } = server;
  const members = process.platform === "linux" ? treePids(child.pid) : new Set([child.pid]);
  const signalGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is gone
    }
  };
  if (child.exitCode === null && child.signalCode === null) {
    signalGroup("SIGINT");
    const timeout = (ms) => sleep(ms).then(() => "timeout");
    if ((await Promise.race([exited, timeout(10_000)])) === "timeout") {
      signalGroup("SIGTERM");
      if ((await Promise.race([exited, timeout(5_000)])) === "timeout") signalGroup("SIGKILL");
    }
  }
  // workerd can outlive wrangler by a moment: wait for every member of the tree to be gone.
  const alive = () => [...members].filter((pid) => readStat(pid) !== undefined);
  for (let i = 0; i < 50 && alive().length > 0; i++) await sleep(100);
  if (alive().length > 0) {
    signalGroup("SIGKILL");
    for (const pid of alive()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
  return alive().length === 0;
}

// ─── CPU accounting (Linux /proc; undefined elsewhere) ─────────────────────────────────────

const CLOCK_TICKS = 100; // USER_HZ on Linux

function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = text.lastIndexOf(")");
    const name = text.slice(text.indexOf("(") + 1, close);
    const fields = text.slice(close + 2).split(" ");
    if (fields[0] === "Z") return undefined; // a zombie has finished
    return {
      pid,
      name,
      ppid: Number(fields[1]),
      cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
    };
  } catch {
    return undefined;
  }
}

function listProcesses() {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter(Boolean);
}

const labels = new Map();

/**
 * A readable name for a process of the server's tree: wrangler's node "wrangler (node)", and
 * the two workerd it runs each by its role (`byRole`) or both as "workerd"; with `direct`
 * (bench/direct-worker.mjs) there is one workerd, the Worker's.
 */
function labelFor(p, port, byRole, direct) {
  if (p.name === "workerd" && !byRole) return p.name;
  const cached = labels.get(p.pid);
  if (cached) return cached;
  let label =
    p.name === "node" ? (direct ? "wrangler (node: Miniflare host only)" : "wrangler (node)") : p.name;
  if (p.name === "workerd" && direct) {
    // One workerd serves the port itself: the Worker, D1 and the Durable Objects.
    label = "workerd (the Worker, D1, DOs)";
  } else if (p.name === "workerd") {
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${p.pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      // gone
    }
    label = cmdline.includes(`entry=127.0.0.1:${port} `)
      ? "workerd (dev proxy)"
      : "workerd (the Worker, D1, DOs)";
  }
  labels.set(p.pid, label);
  return label;
}

/** Resident memory of a process, MiB (0 when it is gone). */
function rssOf(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of the whole machine so far (all cores): busy, idle (with I/O wait), and steal
 * (time the hypervisor gave to someone else).
 */
function machineSeconds() {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
  const [, user, nice, system, idle, iowait, irq, softirq, steal = 0] = line.trim().split(/\s+/).map(Number);
  return {
    busy: (user + nice + system + irq + softirq + steal) / CLOCK_TICKS,
    idle: (idle + iowait) / CLOCK_TICKS,
    steal: steal / CLOCK_TICKS,
  };
}

/** `cpuSnapshot()`'s label for this process by default: the load generator (and fake Daraja). */
export const LOAD_GENERATOR = "load generator + fake Daraja (node)";

/**
 * CPU seconds used so far, by process label, for the server's tree, this process and the rest.
 * @param {{ selfLabel?: string, workerdByRole?: boolean }} [options] `selfLabel`: the label of
 *   this process (the load generator); `workerdByRole`: the two workerd processes apart, by
 *   role (default), or together as "workerd".
 */
export function cpuSnapshot(server, { selfLabel = LOAD_GENERATOR, workerdByRole = true } = {}) {
  if (process.platform !== "linux") return undefined;
  const all = listProcesses();
  const tree = treePids(server.child.pid, all);
  const byName = {};
  const pids = {};
  const rssMiB = {};
  let ours = 0;
  for (const p of all) {
    if (!tree.has(p.pid)) continue;
    const label = labelFor(p, server.port, workerdByRole, server.direct);
    byName[label] = (byName[label] ?? 0) + p.cpu;
    pids[label] = [...(pids[label] ?? []), p.pid].sort((a, b) => a - b);
    rssMiB[label] = (rssMiB[label] ?? 0) + rssOf(p.pid);
    ours += p.cpu;
  }
  const usage = process.cpuUsage();
  const self = (usage.user + usage.system) / 1e6;
  byName[selfLabel] = self;
  ours += self;
  const { busy, idle, steal } = machineSeconds();
  return { byName, pids, rssMiB, ours, machine: busy, idle, steal, at: performance.now() };
}

/**
 * CPU seconds per second of wall time between two snapshots, per label, plus everything else
 * on the machine ("other processes on the machine"), or with `machineIdle` the machine's idle
 * and steal time instead ("(machine idle)", "(machine steal)").
 * @param {{ seconds?: number, machineIdle?: boolean }} [options] `seconds`: the wall time to
 *   divide by (default: the time between the two snapshots)
 */
export function cpuDelta(before, after, { seconds: wall, machineIdle = false } = {}) {
  if (!before || !after) return undefined;
  const seconds = wall ?? (after.at - before.at) / 1000;
  const perSecond = Object.fromEntries(
    Object.keys(after.byName).map((name) => [
      name,
      (after.byName[name] - (before.byName[name] ?? 0)) / seconds,
    ]),
  );
  const machine = (after.machine - before.machine) / seconds;
  const ours = (after.ours - before.ours) / seconds;
  if (machineIdle) {
    perSecond["(machine idle)"] = (after.idle - before.idle) / seconds;
    perSecond["(machine steal)"] = (after.steal - before.steal) / seconds;
  } else {
    perSecond["other processes on the machine"] = Math.max(0, machine - ours);
  }
  return { perSecond, machine, cores: os.availableParallelism?.() ?? os.cpus().length };
}
