import { DelayedError, UnrecoverableError, Worker, type Job } from "bullmq";
import { isJobName, parseJobData, QUEUES, type JobName } from "@funnelsync/jobs";
import { classifyFailure } from "./failure";
import type { ProcessorMap, WorkerDeps } from "./processors/types";
import type { WorkerMetrics } from "./metrics";

const SOURCE_OF: Record<string, "kommo" | "moosend" | "loops"> = { kommo: "kommo", moosend: "moosend", loops: "loops" };

/**
 * Queues whose every job needs Kommo first (each of Kommo's changes starts by reading the lead): a
 * vendor's wait pauses the whole queue, since the jobs behind would only meet it too. On the other
 * queues (the e-mail platforms' reports, polls) a wait holds back only the job that met it, so work
 * for the other vendors goes on.
 */
const PAUSE_WHOLE_QUEUE = new Set<string>([QUEUES.kommo]);

function idsOf(data: unknown): { leadId?: number; contactId?: number; email?: string } {
  const d = (data ?? {}) as Record<string, unknown>;
  return {
    leadId: typeof d.leadId === "number" ? d.leadId : undefined,
    contactId: typeof d.contactId === "number" ? d.contactId : undefined,
    email: typeof d.email === "string" ? d.email : undefined,
  };
}

/**
 * The only place that maps what happened to BullMQ: a vendor's rate limit pauses the queue for as
 * long as it asked, without spending an attempt; a permanent failure stops retries; anything else is
 * rethrown for the backoff. The outcome rows are written before the job's state changes.
 */
export function createDispatcher(processors: ProcessorMap, deps: WorkerDeps, metrics: WorkerMetrics, worker: () => Worker) {
  return async (job: Job, token?: string): Promise<void> => {
    const started = Date.now();
    const ids = idsOf(job.data);
    const logger = deps.logger.child({ jobId: job.id, jobName: job.name, leadId: ids.leadId });
    const finish = (outcome: string) => {
      metrics.jobs.inc({ queue: job.queueName, name: job.name, outcome });
      metrics.jobSeconds.observe({ queue: job.queueName, name: job.name }, (Date.now() - started) / 1000);
    };
    if (!isJobName(job.name)) {
      finish("failed");
      throw new UnrecoverableError(`no processor for job ${job.name}`);
    }
    const name: JobName = job.name;
    try {
      job.data = parseJobData(name, job.data);
    } catch (err) {
      await deps.outcomes.jobFailed(job, new Error(`bad payload: ${(err as Error).message}`), { ...ids, final: true });
      finish("failed");
      throw new UnrecoverableError(`bad payload for ${name}`);
    }
    // On every attempt, not just the first (storing it again is a no-op): the first may have met the database down.
    if (name !== "ingest.batch" && name !== "maintenance.retention") {
      await deps.db.events.record({ source: SOURCE_OF[name.split(".")[0]!] ?? "kommo", dedupeKey: job.id!, kind: name, ...ids, payload: job.data });
    }
    try {
      await (processors[name] as (job: Job, deps: WorkerDeps) => Promise<void>)(job, { ...deps, logger });
      await deps.outcomes.jobSucceeded(job, { ...ids, durationMs: Date.now() - started });
      await deps.db.events.markProcessed(job.id!);
      finish("completed");
      logger.debug("worker.job: done", { ms: Date.now() - started }); // each job's outcome is in Postgres
    } catch (err) {
      const { kind, final, rateLimit } = classifyFailure(err, job);
      if (rateLimit) {
        // The vendor's wait itself is logged once, where it began (see startWorker); here, per job, in debug.
        metrics.rateLimited.inc({ vendor: rateLimit.vendor });
        finish("rateLimited");
        if (PAUSE_WHOLE_QUEUE.has(job.queueName)) {
          logger.debug("worker.job: rate limited, pausing queue", { vendor: rateLimit.vendor, waitMs: rateLimit.retryAfterMs });
          await worker().rateLimit(rateLimit.retryAfterMs);
          throw Worker.RateLimitError();
        }
        logger.debug("worker.job: rate limited, the job waits", { vendor: rateLimit.vendor, waitMs: rateLimit.retryAfterMs });
        await job.moveToDelayed(Date.now() + rateLimit.retryAfterMs, token);
        throw new DelayedError();
      }
      await deps.outcomes.jobFailed(job, err, { ...ids, final }).catch(() => undefined); // the database may be what failed
      logger.warn("worker.job: failed", { kind, attempt: job.attemptsMade + 1, error: (err as Error).message });
      finish(final ? "failed" : "retrying");
      if (kind === "permanent") throw new UnrecoverableError((err as Error).message);
      throw err;
    }
  };
}
