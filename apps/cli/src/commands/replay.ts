import type { Job, Queue } from "bullmq";
import type { OutcomeRepository, OutcomeRow } from "@funnelsync/db";
import { isoTime, renderTable } from "../table";

export type ReplayVendor = "kommo" | "moosend" | "loops";
export const REPLAY_VENDORS: readonly ReplayVendor[] = ["kommo", "moosend", "loops"];

export interface ReplayFilters {
  /** Only jobs that failed at or after this time. */
  since?: Date;
  /** Only jobs with a failed (or unfinished) step at this vendor. */
  vendor?: ReplayVendor;
  leadId?: number;
}

export interface FailedJob {
  jobId: string;
  name: string;
  queue: string;
  leadId: number | null;
  failedAt: Date | null;
  /** The vendors of the job's failed or unfinished steps, from its outcome rows. */
  vendors: ReplayVendor[];
  reason: string;
}

export interface ReplayResult {
  dryRun: boolean;
  /** Retried (or, in a dry run, matching) jobs, oldest failure first. */
  jobs: FailedJob[];
  /** Jobs that matched but could not be retried (e.g. retried from the dashboard meanwhile). */
  errors: Array<{ jobId: string; error: string }>;
}

export interface ReplayOptions {
  queues: Queue[];
  outcomes: Pick<OutcomeRepository, "forJob">;
  filters?: ReplayFilters;
  dryRun?: boolean;
}

const PAGE = 500;
const VENDOR_PREFIX = /^(kommo|moosend|loops):/;

/**
 * Which vendors a failed job was stuck at: the steps its outcome rows show failed, or still running
 * when the job gave up. A failure outside any step (reading the lead from Kommo, say) has only the
 * `job` row, vendor `none`; its reason is a vendor error's message, which starts with the vendor.
 */
export function vendorsOf(rows: OutcomeRow[], failedReason: string | undefined): ReplayVendor[] {
  const unfinished = rows.filter((r) => r.status === "failed" || r.status === "running");
  const found = new Set<ReplayVendor>();
  for (const row of unfinished) {
    if (row.vendor !== "none") found.add(row.vendor);
    else if (row.reason && VENDOR_PREFIX.test(row.reason)) found.add(VENDOR_PREFIX.exec(row.reason)![1] as ReplayVendor);
  }
  if (rows.length === 0 && failedReason && VENDOR_PREFIX.test(failedReason)) found.add(VENDOR_PREFIX.exec(failedReason)![1] as ReplayVendor);
  return [...found].sort();
}

async function failedJobs(queue: Queue): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let start = 0; ; start += PAGE) {
    const page = await queue.getFailed(start, start + PAGE - 1);
    jobs.push(...page.filter((j): j is Job => Boolean(j)));
    if (page.length < PAGE) return jobs;
  }
}

/**
 * Retries the failed jobs of every queue that match the filters, as the dashboard's "retry" does
 * (`job.retry()`): the job keeps its id, data and attempts made, and its already-succeeded steps are
 * skipped by the outcome rows when it runs again. All matches are collected before any is retried.
 */
export async function replayFailed(options: ReplayOptions): Promise<ReplayResult> {
  const filters = options.filters ?? {};
  const matches: Array<{ job: Job; info: FailedJob }> = [];
  for (const queue of options.queues) {
    for (const job of await failedJobs(queue)) {
      const leadId = typeof job.data?.leadId === "number" ? (job.data.leadId as number) : null;
      const failedAt = job.finishedOn ? new Date(job.finishedOn) : null;
      if (filters.leadId !== undefined && leadId !== filters.leadId) continue;
      if (filters.since && (!failedAt || failedAt < filters.since)) continue;
      const vendors = vendorsOf(await options.outcomes.forJob(job.id!), job.failedReason);
      if (filters.vendor && !vendors.includes(filters.vendor)) continue;
      matches.push({ job, info: { jobId: job.id!, name: job.name, queue: queue.name, leadId, failedAt, vendors, reason: job.failedReason ?? "" } });
    }
  }
  matches.sort((a, b) => (a.info.failedAt?.getTime() ?? 0) - (b.info.failedAt?.getTime() ?? 0));

  const result: ReplayResult = { dryRun: options.dryRun ?? false, jobs: [], errors: [] };
  for (const { job, info } of matches) {
    if (!result.dryRun) {
      try {
        await job.retry("failed");
      } catch (err) {
        result.errors.push({ jobId: info.jobId, error: (err as Error).message });
        continue;
      }
    }
    result.jobs.push(info);
  }
  return result;
}

export function formatReplay(result: ReplayResult): string {
  const lines: string[] = [];
  if (result.jobs.length > 0) {
    lines.push(
      renderTable(
        ["failed at", "job", "name", "lead", "vendor", "reason"],
        result.jobs.map((j) => [isoTime(j.failedAt), j.jobId, j.name, j.leadId, j.vendors.join(",") || "-", j.reason]),
      ),
    );
  }
  for (const e of result.errors) lines.push(`✗ ${e.jobId}: could not retry: ${e.error}`);
  const n = result.jobs.length;
  const jobs = `${n} failed job${n === 1 ? "" : "s"}`;
  if (n === 0 && result.errors.length === 0) lines.push("replay: no failed job matches");
  else lines.push(result.dryRun ? `replay: would retry ${jobs} (dry run, nothing changed)` : `replay: retried ${jobs}`);
  return lines.join("\n");
}
