import { randomUUID } from "node:crypto";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { QUEUES } from "@funnelsync/jobs";
import { TUNING, type BurstSignal } from "@funnelsync/vendor-gateway";
import { RecentRate } from "./recentRate";

/** The gateway's burst signal, as the worker that owns the queues keeps it. */
export interface WorkerBurstSignal extends BurstSignal {
  /** A Kommo-change job started in this process. */
  noteStarted(): void;
  close(): void;
}

const { reportLifetimeMs: REPORT_LIFETIME_MS, readEveryMs: READ_EVERY_MS } = TUNING.burstSignal;

/**
 * Publishes this process's own figures (subscribers waiting in its scheduler, jobs started per ms) and
 * sums every live process's, in one round trip. Redis' clock dates the reports, so hosts' clocks may differ.
 */
const REPORT_AND_SUM = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) * 10)
local processes, waiting, rate = 0, 0, 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local w, r, at = string.match(all[i + 1], '(%S+) (%S+) (%S+)')
  if now - tonumber(at) > tonumber(ARGV[4]) then
    redis.call('HDEL', KEYS[1], all[i])
  else
    processes = processes + 1
    waiting = waiting + tonumber(w)
    rate = rate + tonumber(r)
  end
end
return {processes, waiting, tostring(rate)}
`;

interface Reading {
  at: number;
  processes: number;
  /** Kommo-change jobs waiting, prioritized or running, and ingest batches not yet split, in every process. */
  jobs: number;
  /** Of those, not started yet. */
  notStarted: number;
  /** Subscribers waiting in every process's Moosend scheduler. */
  waiting: number;
  /** Kommo-change jobs started per ms, over every process. */
  startedPerMs: number;
}

export interface RedisBurstSignalOptions {
  redis: Redis;
  prefix: string;
  /** The job queues: the Kommo-change and ingest ones are counted. */
  queues: readonly Queue[];
  now?: () => number;
}

/** The burst signal shared through Redis: every process reports its own figures and reads everyone's. */
export class RedisBurstSignal implements WorkerBurstSignal {
  private readonly id = randomUUID();
  private readonly started: RecentRate;
  private readonly counted: Queue[];
  private readonly key: string;
  private readonly now: () => number;
  private reading: Reading | undefined;
  private reads: Promise<Reading> | undefined;
  private waitingHere = 0;
  private closed = false;

  constructor(private readonly options: RedisBurstSignalOptions) {
    this.now = options.now ?? Date.now;
    this.started = new RecentRate(1_000, this.now);
    this.counted = options.queues.filter((q) => q.name === QUEUES.kommo || q.name === QUEUES.ingest);
    this.key = `${options.prefix}:burst:processes`;
  }

  async subscribersComing(horizonMs: number, waitingHere: number): Promise<number> {
    this.waitingHere = waitingHere;
    const r = await this.fresh();
    const others = Math.max(0, r.jobs - r.waiting);
    return Math.max(0, others + r.startedPerMs * horizonMs);
  }

  /**
   * The last quarter second sees a burst within its first page (over a whole second a burst's first
   * 50 look-ups went out as small pages); the whole second keeps seeing it through the pauses of a busy
   * worker. Changes queued but not started count too: at a burst's start the worker takes in webhooks
   * faster than their jobs start, and look-ups seen only as they came went out as pages of a few leads,
   * spending most of Kommo's first second.
   */
  changesArriving(perSecond: number): boolean {
    void this.fresh().catch(() => undefined);
    const startedPerSecond = Math.max(this.started.perMs(), this.started.perMs(250)) * 1000;
    const queuedHere = this.reading ? this.reading.notStarted / this.reading.processes : 0;
    return startedPerSecond >= perSecond || queuedHere >= perSecond;
  }

  noteStarted(): void {
    this.started.note();
  }

  close(): void {
    this.closed = true;
  }

  private fresh(): Promise<Reading> {
    if (this.reading && this.now() - this.reading.at < READ_EVERY_MS) return Promise.resolve(this.reading);
    if (this.closed) return Promise.resolve(this.reading ?? emptyReading(this.now()));
    this.reads ??= this.read()
      .then((reading) => (this.reading = reading))
      .catch(() => this.reading ?? emptyReading(this.now()))
      .finally(() => (this.reads = undefined));
    return this.reads;
  }

  private async read(): Promise<Reading> {
    const at = this.now();
    const [sums, ...counts] = await Promise.all([
      this.options.redis.eval(REPORT_AND_SUM, 1, this.key, this.id, this.waitingHere, this.started.perMs(), REPORT_LIFETIME_MS) as Promise<[number, number, string]>,
      ...this.counted.map((q) => q.getJobCounts("waiting", "prioritized", "active")),
    ]);
    const [processes, waiting, rate] = sums;
    const sum = (pick: (c: Record<string, number>) => number) => counts.reduce((n, c) => n + pick(c), 0);
    return {
      at,
      processes: Math.max(1, Number(processes)),
      jobs: sum((c) => (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.active ?? 0)),
      notStarted: sum((c) => (c.waiting ?? 0) + (c.prioritized ?? 0)),
      waiting: Number(waiting),
      startedPerMs: Number(rate),
    };
  }
}

function emptyReading(at: number): Reading {
  return { at, processes: 1, jobs: 0, notStarted: 0, waiting: 0, startedPerMs: 0 };
}
