import type { Queue } from "bullmq";
import type { Mapping } from "@funnelsync/config";
import { jobIdFor, type JobData, type JobQueues } from "@funnelsync/jobs";
import { KOMMO_MAX_PAGE, type KommoLead } from "@funnelsync/kommo-client";
import type { KommoGateway } from "@funnelsync/vendor-gateway";
import { isVendorRateLimitError } from "@funnelsync/vendor-http";
import { UsageError } from "../usageError";

export interface BackfillProgress {
  dryRun: boolean;
  page: number;
  /** Leads on this page. */
  pageLeads: number;
  /** Totals so far. */
  leads: number;
  enqueued: number;
  alreadyQueued: number;
  hasMore: boolean;
}

export interface BackfillSummary {
  pipelineId: number;
  statusId: number | undefined;
  dryRun: boolean;
  pages: number;
  leads: number;
  /** Jobs added (in a dry run: that would be added). */
  enqueued: number;
  /** Leads whose job for this very version is still in the queue (waiting, done or failed). */
  alreadyQueued: number;
}

export interface BackfillOptions {
  kommo: Pick<KommoGateway, "listLeads">;
  queues: JobQueues;
  mapping: Mapping;
  pipelineId: number;
  statusId?: number;
  dryRun?: boolean;
  /** Leads per Kommo page, at most 250 (the default). */
  pageSize?: number;
  onPage?: (progress: BackfillProgress) => void;
  /** How often one page may meet Kommo's 429 before the backfill gives up. */
  maxRateLimitWaits?: number;
  sleep?: (ms: number) => Promise<void>;
}

const JOB_NAME = "kommo.leadUpdated";

/** A backfill job is the "lead updated" sync: list membership and properties, never Loops events. */
export function backfillJob(lead: KommoLead): { name: typeof JOB_NAME; data: JobData<typeof JOB_NAME>; jobId: string } {
  const data: JobData<typeof JOB_NAME> = {
    leadId: lead.id,
    pipelineId: lead.pipelineId,
    statusId: lead.statusId,
    oldStatusId: null,
    updatedAt: lead.updatedAt,
    accountId: null,
    fingerprint: "backfill",
  };
  return { name: JOB_NAME, data, jobId: jobIdFor(JOB_NAME, data) };
}

/** Refuses a pipeline or stage the mapping does not name: every job would only record a skip. */
export function assertBackfillTarget(mapping: Mapping, pipelineId: number, statusId: number | undefined): void {
  const pipeline = mapping.pipelines.find((p) => p.pipelineId === pipelineId);
  if (!pipeline) {
    throw new UsageError(`backfill: pipeline ${pipelineId} is not in the mapping (mapped: ${mapping.pipelines.map((p) => p.pipelineId).join(", ")})`);
  }
  if (statusId !== undefined && !pipeline.stages.some((s) => s.statusId === statusId)) {
    throw new UsageError(`backfill: stage ${pipelineId}/${statusId} is not in the mapping (mapped: ${pipeline.stages.map((s) => s.statusId).join(", ")})`);
  }
}

/**
 * The ids among `ids` that the queue still holds in any state. A job's own record answers that in
 * one look-up; `getJobState` would scan the waiting list for every id that is not there, which, with
 * a backfill's tens of thousands of jobs waiting, holds Redis up for every worker.
 */
async function existingJobIds(queue: Queue, ids: string[]): Promise<Set<string>> {
  const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
  return new Set(ids.filter((_, i) => jobs[i] !== undefined));
}

/**
 * Pages through a pipeline's (or one stage's) leads in Kommo, oldest id first, and enqueues one
 * `kommo.leadUpdated` job per lead with one `addBulk` per page. Each job's id names the lead's
 * `updated_at`, so running the backfill again adds nothing for leads that have not changed since.
 * Kommo's 429 waits as long as it asks, then the same page is read again.
 */
export async function backfill(options: BackfillOptions): Promise<BackfillSummary> {
  const pageSize = options.pageSize ?? KOMMO_MAX_PAGE;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const maxWaits = options.maxRateLimitWaits ?? 5;
  assertBackfillTarget(options.mapping, options.pipelineId, options.statusId);
  const summary: BackfillSummary = {
    pipelineId: options.pipelineId,
    statusId: options.statusId,
    dryRun: options.dryRun ?? false,
    pages: 0,
    leads: 0,
    enqueued: 0,
    alreadyQueued: 0,
  };

  for (let page = 1; ; page++) {
    let answer: Awaited<ReturnType<KommoGateway["listLeads"]>>;
    for (let waits = 0; ; waits++) {
      try {
        answer = await options.kommo.listLeads({ pipelineId: options.pipelineId, statusId: options.statusId, page, limit: pageSize });
        break;
      } catch (err) {
        if (!isVendorRateLimitError(err) || waits >= maxWaits) throw err;
        await sleep(err.retryAfterMs);
      }
    }
    if (answer.leads.length === 0) break;
    summary.pages++;

    const jobs = answer.leads.map(backfillJob);
    const existing = await existingJobIds(options.queues.byKey.kommo, jobs.map((j) => j.jobId));
    const fresh = jobs.filter((j) => !existing.has(j.jobId));
    if (!summary.dryRun && fresh.length > 0) {
      await options.queues.add(fresh);
    }
    summary.leads += jobs.length;
    summary.enqueued += fresh.length;
    summary.alreadyQueued += existing.size;
    options.onPage?.({ dryRun: summary.dryRun, page, pageLeads: jobs.length, leads: summary.leads, enqueued: summary.enqueued, alreadyQueued: summary.alreadyQueued, hasMore: answer.hasMore });
    if (!answer.hasMore) break;
  }
  return summary;
}

export function formatBackfill(s: BackfillSummary): string {
  const target = s.statusId === undefined ? `pipeline ${s.pipelineId}` : `stage ${s.pipelineId}/${s.statusId}`;
  const verb = s.dryRun ? "would enqueue" : "enqueued";
  return [
    `backfill ${target}${s.dryRun ? " (dry run, nothing enqueued)" : ""}`,
    `  pages           ${s.pages}`,
    `  leads           ${s.leads}`,
    `  ${verb.padEnd(15)} ${s.enqueued}`,
    `  already queued  ${s.alreadyQueued}`,
  ].join("\n");
}
