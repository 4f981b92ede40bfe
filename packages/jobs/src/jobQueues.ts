import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { jobIdFor, QUEUES, queueNameFor, type JobData, type JobName, type QueueKey } from "./jobCatalog";
import { DEFAULT_JOB_OPTIONS } from "./retryPolicy";

export interface JobRequest<K extends JobName = JobName> {
  name: K;
  data: JobData<K>;
}

/** Every queue of the catalog on one connection, and the one way jobs are added to them. */
export interface JobQueues {
  readonly byKey: Readonly<Record<QueueKey, Queue>>;
  readonly all: readonly Queue[];
  /**
   * Adds the jobs under their deterministic ids (a repeated delivery lands on the existing job), one
   * `addBulk` per queue; resolves to the ids, in the order given.
   */
  add(jobs: readonly JobRequest[]): Promise<string[]>;
  /** Closes every queue, each even if another fails; rejects afterwards if any did. */
  close(): Promise<void>;
}

export interface OpenJobQueuesOptions {
  /** BullMQ key prefix (`funnelsync`; tests isolate themselves with a unique one). */
  prefix: string;
  /** Ingest adds without waiting for the connection, so an outage fails the add at once. */
  skipWaitingForReady?: boolean;
}

export function openJobQueues(connection: Redis, options: OpenJobQueuesOptions): JobQueues {
  const byKey = Object.fromEntries(
    (Object.entries(QUEUES) as Array<[QueueKey, string]>).map(([key, name]) => [
      key,
      new Queue(name, { connection, prefix: options.prefix, skipWaitingForReady: options.skipWaitingForReady, defaultJobOptions: DEFAULT_JOB_OPTIONS }),
    ]),
  ) as Record<QueueKey, Queue>;
  const all = Object.values(byKey);
  const byName = new Map(all.map((queue) => [queue.name, queue]));
  // A queue's connection errors reach its owner through the failed adds and the readiness checks.
  for (const queue of all) queue.on("error", () => undefined);

  return {
    byKey,
    all,
    async add(jobs) {
      const ids = jobs.map((job) => jobIdFor(job.name, job.data));
      const byQueue = new Map<string, Array<{ name: string; data: unknown; opts: { jobId: string } }>>();
      jobs.forEach((job, i) => {
        const queueName = queueNameFor(job.name);
        const batch = byQueue.get(queueName) ?? [];
        batch.push({ name: job.name, data: job.data, opts: { jobId: ids[i]! } });
        byQueue.set(queueName, batch);
      });
      await Promise.all(
        [...byQueue].map(([queueName, batch]) => {
          const queue = byName.get(queueName)!;
          // A lone job skips the MULTI that `addBulk` wraps around its jobs.
          return batch.length === 1 ? queue.add(batch[0]!.name, batch[0]!.data, batch[0]!.opts) : queue.addBulk(batch);
        }),
      );
      return ids;
    },
    async close() {
      const results = await Promise.allSettled(all.map((queue) => queue.close()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    },
  };
}
