import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import type { Queue } from "bullmq";
import { KEY_PREFIX, openJobQueues } from "@funnelsync/jobs";
import pg from "pg";

const REPO_ROOT = resolve(__dirname, "..", "..");

/**
 * The bench's own database and Redis logical DB, so a run never touches the apps' `funnelsync`
 * database, the test suite's, or BullMQ's keys in DB 0. Both are wiped at the start of every run.
 */
export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/funnelsync_bench";
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379/5";

function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
}

function guard(): void {
  if (!databaseName(BENCH_DATABASE_URL).includes("bench")) {
    throw new Error(`bench: refusing to drop ${databaseName(BENCH_DATABASE_URL)}: the bench database's name must contain "bench"`);
  }
  const db = Number(new URL(BENCH_REDIS_URL).pathname.replace(/^\//, "") || "0");
  if (!(db > 0)) throw new Error("bench: refusing to FLUSHDB Redis DB 0 (the apps' default): give BENCH_REDIS_URL a logical DB, e.g. /5");
}

/** Drops and recreates the bench database, then applies the migrations through the offline CLI. */
export async function prepareDatabase(): Promise<void> {
  guard();
  const name = databaseName(BENCH_DATABASE_URL);
  const admin = new URL(BENCH_DATABASE_URL);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  try {
    await promisify(execFile)(process.execPath, [resolve(REPO_ROOT, "prisma/engine/prismaCli.mjs"), "migrate", "deploy"], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: BENCH_DATABASE_URL },
      timeout: 120_000,
    });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`bench: migrating ${name} failed\n${stdout ?? ""}${stderr ?? ""}`, { cause: err });
  }
}

/** Empties every table (not the migration history) and the bench's Redis DB: each scenario starts clean. */
export async function resetState(): Promise<void> {
  guard();
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'",
    );
    if (rows.length) await client.query(`TRUNCATE ${rows.map((r) => `"${r.tablename}"`).join(", ")} RESTART IDENTITY CASCADE`);
  } finally {
    await client.end();
  }
  const redis = new Redis(BENCH_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

/** Runs `read` over the catalog's queues as the apps' BullMQ (prefix `KEY_PREFIX`) sees them, on a connection of its own. */
async function withBenchQueues<T>(read: (queues: readonly Queue[]) => Promise<T>): Promise<T> {
  const connection = new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: null });
  const queues = openJobQueues(connection, { prefix: KEY_PREFIX });
  try {
    return await read(queues.all);
  } finally {
    await queues.close();
    connection.disconnect();
  }
}

/** Jobs per state over every queue in the catalog. */
export function jobCounts(): Promise<Record<string, number>> {
  return withBenchQueues(async (queues) => {
    const total: Record<string, number> = {};
    for (const queue of queues) {
      const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized", "waiting-children", "failed", "completed");
      for (const [state, count] of Object.entries(counts)) total[state] = (total[state] ?? 0) + count;
    }
    return total;
  });
}

/**
 * Jobs still to run over every queue, leaving out the schedulers' next runs (retention, the
 * reconciler), which are always there, delayed until their time.
 */
export function jobsLeftToRun(): Promise<number> {
  return withBenchQueues(async (queues) => {
    let left = 0;
    for (const queue of queues) {
      const counts = await queue.getJobCounts("waiting", "active", "prioritized");
      const delayed = await queue.getDelayed();
      left += (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.prioritized ?? 0) + delayed.filter((job) => !job.repeatJobKey).length;
    }
    return left;
  });
}
