import { createHash } from "node:crypto";
import type { Job } from "bullmq";
import type { Db, OutcomeInput, OutcomeRow } from "@funnelsync/db";
import { StepSkipped, VendorAnswer, type Unanswered } from "@funnelsync/vendor-gateway";
import { classifyFailure, mostHopeful } from "./failure";

interface JobIds {
  leadId?: number | null;
  contactId?: number | null;
}

export interface StepMeta {
  vendor: "kommo" | "moosend" | "loops" | "none";
  action: string;
  leadId?: number | null;
  contactId?: number | null;
  email?: string | null;
  /** An idempotency key derived from the business fact rather than the job (e.g. one welcome per deal). */
  idempotencyKey?: string;
  detail?: Record<string, unknown>;
}


/** Loops keeps keys of at most 100 characters. */
function boundedKey(key: string): string {
  return key.length <= 100 ? key : `${key.slice(0, 60)}-${createHash("sha256").update(key).digest("hex").slice(0, 32)}`;
}

/**
 * Records every side effect of a job as a row keyed by (job id, step). A retried job skips the steps
 * already done, so an e-mail sent before a later step failed is not sent again; each step gets an
 * idempotency key made from the job id and step name, stable across retries.
 */
/** A job on its first start: no earlier attempt (failed, or cut off by a crash) can have done anything. */
export function isFirstStart(job: Job): boolean {
  return job.attemptsStarted <= 1 && job.attemptsMade === 0;
}

export class OutcomeRecorder {
  /** Jobs that ended as a whole-job skip in their current attempt: their final row is written. */
  private readonly skippedJobs = new Set<string>();

  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  /**
   * Runs `effect` unless this step already succeeded; returns undefined when it was skipped as done.
   * An effect that answers with a `VendorAnswer` (the gateway's writes do) has its status recorded and
   * its value returned; any other effect records no vendor status.
   */
  async step<T>(job: Job, step: string, meta: StepMeta, effect: (idempotencyKey: string) => Promise<T>): Promise<Unanswered<Exclude<T, StepSkipped>> | undefined> {
    const jobId = job.id!;
    // A job on its first start has no earlier attempt, so no row to find: under a burst that saves
    // a query per step. A retry, a replay or a restart after a stall looks.
    const previous = isFirstStart(job) ? null : await this.db.outcomes.get(jobId, step);
    if (previous?.status === "succeeded" || previous?.status === "skipped") return undefined;
    const idempotencyKey = boundedKey(meta.idempotencyKey ?? `${jobId}-${step}`);
    const started = this.now();
    const base = {
      jobId,
      jobName: job.name,
      step,
      vendor: meta.vendor,
      action: meta.action,
      attempts: job.attemptsMade + 1,
      leadId: meta.leadId ?? undefined,
      contactId: meta.contactId ?? undefined,
      email: meta.email ?? undefined,
      idempotencyKey,
      detail: meta.detail,
    };
    try {
      const result = await effect(idempotencyKey);
      if (result instanceof StepSkipped) {
        await this.record(job, { ...base, status: "skipped", reason: result.reason, durationMs: this.now() - started });
        return undefined;
      }
      const answer = result instanceof VendorAnswer ? result : undefined;
      await this.record(job, { ...base, status: "succeeded", vendorStatus: answer?.vendorStatus, durationMs: this.now() - started });
      return (answer ? answer.value : result) as Unanswered<Exclude<T, StepSkipped>>;
    } catch (err) {
      const failure = classifyFailure(err, job);
      await this.record(job, {
        ...base,
        status: failure.final ? "failed" : "running",
        reason: failure.reason,
        vendorStatus: failure.vendorStatus,
        durationMs: this.now() - started,
      });
      throw err;
    }
  }

  /** A step that is deliberately not taken (unmapped stage, no e-mail, opted out), with its reason. */
  async skipped(job: Job, step: string, reason: string, meta: Omit<StepMeta, "action"> & { action?: string }): Promise<void> {
    if (step === "job") this.skippedJobs.add(job.id!);
    await this.record(job, {
      jobId: job.id!,
      jobName: job.name,
      step,
      vendor: meta.vendor,
      action: meta.action ?? "skip",
      status: "skipped",
      reason,
      attempts: job.attemptsMade + 1,
      leadId: meta.leadId ?? undefined,
      contactId: meta.contactId ?? undefined,
      email: meta.email ?? undefined,
      detail: meta.detail,
    });
  }

  /** Records that a whole job failed outside any step (e.g. reading the lead); `running` while it will be retried. */
  async jobFailed(job: Job, err: unknown, meta: JobIds & { final: boolean }): Promise<void> {
    this.skippedJobs.delete(job.id!);
    const { reason, vendorStatus } = classifyFailure(err, job);
    await this.saveJobRow(job, meta, { status: meta.final ? "failed" : "running", reason, vendorStatus });
  }

  /** The job's final row, unless the job ended as a recorded skip. */
  async jobSucceeded(job: Job, meta: JobIds & { durationMs: number }): Promise<void> {
    // A skipped job returns at once, in the same attempt: no need to ask the database.
    if (this.skippedJobs.delete(job.id!)) return;
    await this.saveJobRow(job, meta, { status: "succeeded", durationMs: meta.durationMs });
  }

  private async saveJobRow(job: Job, ids: JobIds, result: Pick<OutcomeInput, "status" | "reason" | "vendorStatus" | "durationMs">): Promise<void> {
    await this.record(job, {
      jobId: job.id!,
      jobName: job.name,
      step: "job",
      vendor: "none",
      action: "process",
      attempts: job.attemptsMade + 1,
      leadId: ids.leadId ?? undefined,
      contactId: ids.contactId ?? undefined,
      ...result,
    });
  }

  /**
   * Saves the row, and tells the job's own log (the dashboard's Logs tab) the same, so it reads like
   * `funnelsync history`. Addresses stay out of the log: it lives in Redis, beyond `forget`'s reach.
   */
  private async record(job: Job, outcome: OutcomeInput): Promise<void> {
    // Side by side: the Redis write adds no wait to the Postgres one a step already has.
    await Promise.all([this.db.outcomes.save(outcome), job.log(describeOutcome(outcome))]);
  }

  /** Did a step with this idempotency key ever succeed for the lead (across jobs)? */
  async succeededBefore(leadId: number, step: string, idempotencyKey: string): Promise<OutcomeRow | undefined> {
    const rows = await this.db.outcomes.forLead(leadId);
    return rows.find((r) => r.step === step && r.status === "succeeded" && r.idempotencyKey === boundedKey(idempotencyKey));
  }
}

/**
 * Runs independent chains of steps (one per vendor) so one vendor failing neither blocks nor redoes
 * the other. Once all have run, the error that still leaves the job a chance is rethrown: a rate
 * limit, else a retryable failure, else a permanent one.
 */
export async function runIndependently(chains: Array<() => Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(chains.map((chain) => chain()));
  const errors = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as unknown);
  if (errors.length === 0) return;
  throw mostHopeful(errors);
}

const ADDRESS = /[^\s"'<>()[\]{},;:]+@[^\s"'<>()[\]{},;:]+/g;

/** One line of a job's log for an outcome row: step, status, the vendor's status, the reason, and the ids. */
export function describeOutcome(o: Pick<OutcomeInput, "step" | "vendor" | "status" | "vendorStatus" | "reason" | "attempts" | "leadId" | "contactId">): string {
  const parts = [`${o.step}: ${o.status}${o.attempts > 1 ? ` (attempt ${o.attempts})` : ""}`];
  if (o.vendor !== "none") parts.push(o.vendorStatus === undefined ? o.vendor : `${o.vendor} answered ${o.vendorStatus}`);
  if (o.reason) parts.push(o.reason.replace(ADDRESS, "[address]"));
  if (o.leadId !== undefined) parts.push(`lead ${o.leadId}`);
  if (o.contactId !== undefined) parts.push(`contact ${o.contactId}`);
  return parts.join(" · ");
}
