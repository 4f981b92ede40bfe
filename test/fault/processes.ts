import { spawn, execFile, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { freePort } from "../../bench/lib/apps";

export { freePort };

export const REPO_ROOT = resolve(__dirname, "..", "..");
const run = promisify(execFile);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until `check` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/**
 * One of our apps as a real child process (`node --import tsx apps/<app>/src/main.ts`), its JSON log
 * lines kept for assertions (no secret may ever appear in them).
 */
export class AppProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    /** The worker's admin HTTP (dashboard, health, readiness). */
    readonly adminUrl: string | undefined,
  ) {
    const collect = (stream: NodeJS.ReadableStream | null) => {
      let rest = "";
      stream?.setEncoding("utf8");
      stream?.on("data", (chunk: string) => {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        this.lines.push(...parts.filter((line) => line.trim() !== ""));
      });
      stream?.on("end", () => {
        if (rest.trim()) this.lines.push(rest);
      });
    };
    collect(child.stdout);
    collect(child.stderr);
    this.exited = new Promise((resolveExit) =>
      child.once("exit", (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        resolveExit(this.exit);
      }),
    );
  }

  static start(name: string, app: "ingest" | "worker", env: Record<string, string>, adminUrl?: string): AppProcess {
    const child = spawn(process.execPath, ["--import", "tsx", `apps/${app}/src/main.ts`], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new AppProcess(name, child, adminUrl);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Resolves once a log line matches; fails early if the process exits. */
  async waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((l) => pattern.test(l));
      if (line) return line;
      if (!this.running) throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before logging ${pattern}:\n${this.lines.slice(-20).join("\n")}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not log ${pattern} within ${timeoutMs} ms:\n${this.lines.slice(-20).join("\n")}`);
      await sleep(50);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  async stop(): Promise<void> {
    this.signal("SIGKILL");
    await this.exited;
  }
}

/** Answers PING with +PONG (not -LOADING while the append-only file replays). */
function redisPongs(port: number): Promise<boolean> {
  return new Promise((resolvePong) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePong(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

/**
 * A private Redis, append-only as in production, so that a restart keeps the queues. Never the shared
 * one on 6379: other test files run against it at the same time.
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number, readonly dir: string) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), "funnelsync-fault-redis-")));
    await server.up();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    this.child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--appendonly", "yes", "--dir", this.dir, "--save", "", "--maxmemory-policy", "noeviction"], {
      stdio: "ignore",
    });
    await waitFor(`redis on ${this.port}`, () => redisPongs(this.port), 10_000, 50);
  }

  /** A clean shutdown (SIGTERM): Redis writes its append-only file and exits. */
  async down(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
    this.child = undefined;
  }

  async destroy(): Promise<void> {
    this.child?.kill("SIGKILL");
    this.child = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The newest installed PostgreSQL server binaries (Debian layout). */
function pgBin(): string {
  const versions = readdirSync("/usr/lib/postgresql").filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql");
  return `/usr/lib/postgresql/${newest}/bin`;
}

/** Postgres refuses to run as root: as root, run its tools as the postgres user. */
function asPostgres(tool: string, args: string[], timeout = 60_000) {
  const command = `${pgBin()}/${tool}`;
  return process.getuid?.() === 0 ? run("runuser", ["-u", "postgres", "--", command, ...args], { timeout }) : run(command, args, { timeout });
}

/**
 * A private PostgreSQL cluster (initdb into a temp dir as the postgres user), for the test that stops
 * and starts the database. The shared one on 5432 is never touched.
 */
export class PostgresCluster {
  private constructor(readonly port: number, readonly dir: string) {}

  static async start(): Promise<PostgresCluster> {
    const dir = mkdtempSync(join(tmpdir(), "funnelsync-fault-pg-"));
    if (process.getuid?.() === 0) chownSync(dir, ...postgresIds());
    const cluster = new PostgresCluster(await freePort(), dir);
    await asPostgres("initdb", ["-D", cluster.dataDir, "-A", "trust", "-U", "postgres", "--no-sync"]);
    await cluster.up();
    await run(process.execPath, [join(REPO_ROOT, "prisma", "engine", "prismaCli.mjs"), "migrate", "deploy"], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: cluster.url },
      timeout: 60_000,
    });
    return cluster;
  }

  get dataDir(): string {
    return join(this.dir, "data");
  }

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/funnelsync`;
  }

  private pgCtl(...args: string[]) {
    return asPostgres("pg_ctl", ["-D", this.dataDir, ...args]);
  }

  async up(): Promise<void> {
    await this.pgCtl("-o", `-p ${this.port} -k /tmp -c fsync=off -c listen_addresses=127.0.0.1`, "-l", join(this.dir, "log"), "-w", "start");
  }

  /** `-m fast`: every connection is cut, as when the database is restarted under the apps. */
  async down(): Promise<void> {
    await this.pgCtl("-m", "fast", "-w", "stop");
  }

  async destroy(): Promise<void> {
    await this.pgCtl("-m", "immediate", "-w", "stop").catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function postgresIds(): [number, number] {
  // The data dir only has to belong to that user.
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("no postgres user on this machine");
  const [, , uid, gid] = line.split(":");
  return [Number(uid), Number(gid)];
}

/**
 * A Redis of the test file's own (started before its tests, destroyed after them, with `stop` run
 * first), for tests that read what Redis itself saw: its keys, its command counts.
 */
export function privateRedis(stop: () => Promise<void> = async () => undefined): { url: () => string; client: () => Redis } {
  let server: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    server = await RedisServer.start();
    client = new Redis(server.url);
  });
  afterAll(async () => {
    await stop();
    client.disconnect();
    await server.destroy();
  });
  return { url: () => server.url, client: () => client };
}
