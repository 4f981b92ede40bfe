import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const REPO_ROOT = resolve(__dirname, "..", "..");

/** Children still running; killed if the bench itself exits early (an exception, Ctrl-C). */
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

export interface ChildApp {
  name: string;
  pid: number;
  /** Where it listens (ingest, bare Express) or serves health (worker admin). */
  url: string;
  logPath: string;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves with how it ended. */
  stop(graceMs?: number): Promise<string>;
}

/** A port free right now on loopback (the OS picks it; a child binds it a moment later). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * How the app runs in production: the environment assignments and Node flags its root `start:*`
 * script gives before the script path (e.g. the worker's heap limits), so the bench measures what
 * users run.
 */
function productionLaunch(script: string): { env: Record<string, string>; flags: string[] } {
  const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
  const command = Object.entries(scripts).find(([name, cmd]) => name.startsWith("start:") && cmd.includes(script))?.[1] ?? "";
  const tokens = command.split(/\s+/);
  const before = tokens.slice(0, tokens.indexOf(script));
  const env = Object.fromEntries(before.filter((t) => /^[A-Z_]+=/.test(t)).map((t) => [t.slice(0, t.indexOf("=")), t.slice(t.indexOf("=") + 1)]));
  return { env, flags: before.filter((t) => t.startsWith("--") && t !== "--import") };
}

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Runs `node <script>` from the repository root as the apps run in production: the bundles of
 * `npm run build` (see `buildApps`), one process each so the worker's memory is its own; a `.ts`
 * script runs through tsx. Its output goes to `logPath`; resolves once `readyPath` answers 200.
 */
export async function startApp(options: {
  name: string;
  script: string;
  port: number;
  readyPath: string;
  env: Record<string, string>;
  logDir: string;
  readyTimeoutMs?: number;
}): Promise<ChildApp> {
  const logPath = join(options.logDir, `${options.name}.log`);
  const fd = openSync(logPath, "a");
  // BENCH_CPU_PROF=worker,ingest writes a V8 CPU profile of those apps into the log folder at exit.
  const profiled = (process.env.BENCH_CPU_PROF ?? "").split(",").includes(options.name);
  const profile = profiled ? ["--cpu-prof", `--cpu-prof-dir=${options.logDir}`] : [];
  const loader = options.script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const launch = productionLaunch(options.script);
  const child = spawn(process.execPath, [...launch.flags, ...profile, ...loader, options.script], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...launch.env, ...options.env },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  children.add(child);
  let exit: string | undefined;
  const exited = new Promise<string>((resolveExit) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      exit = signal ? `signal ${signal}` : `exit code ${code}`;
      resolveExit(exit);
    });
  });
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exit) throw new Error(`bench: ${options.name} ended before it was ready (${exit}):\n${tail(logPath)}`);
    const status = await fetch(`${url}${options.readyPath}`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`bench: ${options.name} was not ready within ${options.readyTimeoutMs ?? 60_000} ms:\n${tail(logPath)}`);
    }
    await sleep(200);
  }
  return {
    name: options.name,
    pid: child.pid!,
    url,
    logPath,
    async stop(graceMs = 30_000) {
      if (exit) return exit;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const how = await exited;
      clearTimeout(timer);
      return how;
    },
  };
}

/** Builds dist/ingest.cjs and dist/worker.cjs from the current sources, as `npm run start:*` does. */
export function buildApps(): void {
  execFileSync(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs")], { cwd: REPO_ROOT, stdio: "inherit" });
}

/** Ingest with the run's environment, on a free port. */
export async function startIngestProcess(env: Record<string, string>, logDir: string): Promise<ChildApp> {
  const port = await freePort();
  return startApp({ name: "ingest", script: "dist/ingest.cjs", port, readyPath: "/readyz", env: { ...env, PORT: String(port) }, logDir });
}

/**
 * The worker with the run's environment; its admin port answers /readyz once Redis and Postgres do.
 * `name` tells several worker processes' logs apart (`worker`, `worker-2`, …).
 */
export async function startWorkerProcess(env: Record<string, string>, logDir: string, name = "worker"): Promise<ChildApp> {
  const port = await freePort();
  return startApp({ name, script: "dist/worker.cjs", port, readyPath: "/readyz", env: { ...env, ADMIN_PORT: String(port) }, logDir });
}

/** `count` worker processes, started one after the other, named `worker`, `worker-2`, …; each one's stop goes to `defer` as soon as it runs. */
export async function startWorkerProcesses(env: Record<string, string>, logDir: string, count: number, defer: (step: () => Promise<unknown>) => void): Promise<ChildApp[]> {
  const workers: ChildApp[] = [];
  for (let i = 1; i <= count; i++) {
    const worker = await startWorkerProcess(env, logDir, i === 1 ? "worker" : `worker-${i}`);
    defer(() => worker.stop());
    workers.push(worker);
  }
  return workers;
}

/** A reference: an Express app that answers 200 to the same POST and does nothing else (or, `parsingBody`, first parses the form with `express.urlencoded`). */
export async function startBareExpress(logDir: string, options: { parsingBody?: boolean } = {}): Promise<ChildApp> {
  const port = await freePort();
  const name = options.parsingBody ? "bare-express-parsing-body" : "bare-express";
  return startApp({ name, script: "bench/bareExpress.cjs", port, readyPath: "/readyz", env: { PORT: String(port), PARSE_BODY: options.parsingBody ? "1" : "0" }, logDir });
}

export interface MemoryReport {
  /** Highest VmRSS among the samples, in MB. */
  peakRssMb: number | null;
  /** The kernel's own high-water mark (VmHWM) at the last sample: catches peaks between samples. */
  hwmMb: number | null;
  samples: number;
}

/** VmRSS and VmHWM of a process in kB; null when it has exited or this is not Linux. */
function memoryStatus(pid: number): { rssKb: number | null; hwmKb: number | null } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return { rssKb: rss ? Number(rss[1]) : null, hwmKb: hwm ? Number(hwm[1]) : null };
  } catch {
    return null;
  }
}

const toMb = (kb: number | null) => (kb === null ? null : Number((kb / 1024).toFixed(1)));

export interface MemoryOfProcesses {
  perProcess: MemoryReport[];
  /** Highest sum of the processes' VmRSS read in one sample, in MB: what they held at the same time. */
  peakSumRssMb: number | null;
}

/**
 * Samples /proc/<pid>/status of every process every `everyMs` until stopped (Linux only; null
 * figures elsewhere); keeps each one's peak and the peak of their sum.
 */
export function sampleMemoryOf(pids: number[], everyMs = 250): { stop(): MemoryOfProcesses } {
  const peakKb: Array<number | null> = pids.map(() => null);
  const hwmKb: Array<number | null> = pids.map(() => null);
  let peakSumKb: number | null = null;
  let samples = 0;
  const read = () => {
    let sumKb = 0;
    let any = false;
    pids.forEach((pid, i) => {
      const status = memoryStatus(pid); // null: exited, or not Linux: keep what was read
      if (status?.rssKb != null) {
        peakKb[i] = Math.max(peakKb[i] ?? 0, status.rssKb);
        sumKb += status.rssKb;
        any = true;
      }
      if (status?.hwmKb != null) hwmKb[i] = status.hwmKb;
    });
    if (any) peakSumKb = Math.max(peakSumKb ?? 0, sumKb);
    samples++;
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    stop() {
      read();
      clearInterval(timer);
      return {
        perProcess: pids.map((_, i) => ({ peakRssMb: toMb(peakKb[i]!), hwmMb: toMb(hwmKb[i]!), samples })),
        peakSumRssMb: toMb(peakSumKb),
      };
    },
  };
}

/** Samples /proc/<pid>/status every `everyMs` until stopped (Linux only; null figures elsewhere). */
export function sampleMemory(pid: number, everyMs = 250): { stop(): MemoryReport } {
  const sampler = sampleMemoryOf([pid], everyMs);
  return { stop: () => sampler.stop().perProcess[0]! };
}
