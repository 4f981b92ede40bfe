import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { jobIdFor, openJobQueues, type JobData, type JobRequest } from "@funnelsync/jobs";

export type { JobRequest } from "@funnelsync/jobs";

export type EnqueueResult = { ok: true; jobIds: string[] } | { ok: false; reason: string };

export interface Enqueuer {
  /**
   * Stores every job in Redis, or none is acknowledged: the caller answers 200 only on `ok`. At
   * `answerBy` (a `performance.now()` time, the request's answer deadline) it settles `ok: false`,
   * whatever write it is queued behind.
   */
  enqueue(jobs: JobRequest[], answerBy?: number): Promise<EnqueueResult>;
  close(): Promise<void>;
}

/**
 * How long after a webhook arrives ingest answers it at the latest (503 when its jobs are not stored
 * by then), and how long one Redis write may take: Kommo gives up on us after 2 s.
 */
export const ENQUEUE_TIMEOUT_MS = 1_500;

/**
 * A lone webhook with more jobs than this travels as a batch too: adding each job costs ingest's
 * event loop ~0.1 ms, so a delivery at the 10,000-change limit would hold every other webhook ~1 s.
 */
const DIRECT_JOBS_MAX = 100;

interface Waiting {
  jobs: JobRequest[];
  answerBy: number;
  settled: boolean;
  settle: (result: EnqueueResult) => void;
}

/**
 * Adds jobs with their deterministic ids (a repeated delivery lands on the existing job). The cost of
 * a BullMQ job is Node's CPU, not Redis', so one write is in flight at a time, started when the
 * event-loop turn that accepted a webhook is over: every webhook accepted in that turn, or while a
 * write was in flight, travels in ONE `ingest.batch` job that the worker splits into the real jobs;
 * a lone webhook is added directly. Either way a request is answered only once what it carried is stored in Redis.
 * Ingest's Redis connection must not queue commands while disconnected (`enableOfflineQueue: false`),
 * so an outage fails fast instead of holding the request.
 */
export function createEnqueuer(redis: Redis, options: { prefix: string }): Enqueuer {
  const queues = openJobQueues(redis, { prefix: options.prefix, skipWaitingForReady: true });

  let waiting: Waiting[] = [];
  let writing = false;
  let writeScheduled = false;
  /**
   * Requests with a deadline, in arrival order: every route has the same answer deadline, so the
   * earliest is at the head and one timer serves them all (a timer per request costs a storm CPU).
   */
  const byDeadline: Waiting[] = [];
  let deadlineTimer: NodeJS.Timeout | undefined;

  function watchDeadlines(): void {
    const now = performance.now();
    while (byDeadline.length > 0 && (byDeadline[0]!.settled || byDeadline[0]!.answerBy <= now)) {
      byDeadline.shift()!.settle({ ok: false, reason: "not stored before the answer deadline" });
    }
    deadlineTimer = byDeadline.length > 0 ? setTimeout(watchDeadlines, byDeadline[0]!.answerBy - now).unref() : undefined;
  }

  async function addAsBatch(jobs: JobRequest[]): Promise<void> {
    const batch: JobData<"ingest.batch"> = { batchId: randomUUID(), jobs };
    await queues.add([{ name: "ingest.batch", data: batch }]);
  }

  /**
   * Starting the write at the end of the turn rather than on the first webhook keeps that first one
   * from going alone while the rest of the turn waits a whole Redis round trip for the next write.
   */
  function scheduleWrite(): void {
    if (writing || writeScheduled) return;
    writeScheduled = true;
    setImmediate(() => {
      writeScheduled = false;
      void flushAll();
    });
  }

  async function flushAll(): Promise<void> {
    writing = true;
    try {
      while (waiting.length > 0) await flush();
    } finally {
      writing = false;
    }
  }

  async function flush(): Promise<void> {
    const batch = waiting.filter((w) => !w.settled); // past their deadline: already answered 503
    waiting = [];
    if (batch.length === 0) return;
    const jobs = batch.flatMap((w) => w.jobs);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ENQUEUE_TIMEOUT_MS} ms`)), ENQUEUE_TIMEOUT_MS);
    });
    try {
      const alone = batch.length === 1 && jobs.length <= DIRECT_JOBS_MAX;
      await Promise.race([alone ? queues.add(jobs) : addAsBatch(jobs), timeout]);
      for (const w of batch) w.settle({ ok: true, jobIds: w.jobs.map((job) => jobIdFor(job.name, job.data)) });
    } catch (err) {
      for (const w of batch) w.settle({ ok: false, reason: (err as Error).message });
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    enqueue(jobs, answerBy = Infinity) {
      return new Promise<EnqueueResult>((resolve) => {
        const entry: Waiting = {
          jobs,
          answerBy,
          settled: false,
          settle(result) {
            if (entry.settled) return;
            entry.settled = true;
            resolve(result);
          },
        };
        waiting.push(entry);
        scheduleWrite();
        if (answerBy === Infinity) return;
        byDeadline.push(entry);
        if (!deadlineTimer) deadlineTimer = setTimeout(watchDeadlines, answerBy - performance.now()).unref();
      });
    },
    async close() {
      clearTimeout(deadlineTimer);
      await queues.close().catch(() => undefined); // a closing ingest has answered every request already
    },
  };
}
