import type { Job } from "bullmq";
import type { WorkerDeps } from "./processors/types";

/**
 * A webhook's `updated_at` and the event's `created_at` for one change are written apart and can
 * differ by a second or two; reports of the same change further apart than this are two changes.
 */
export const PAIRING_TOLERANCE_SECONDS = 5;

/** Marks the jobs the reconciler made from Kommo's events feed (their fingerprint names the event). */
export const EVENT_FINGERPRINT_PREFIX = "event-";

interface ReportedChange {
  entityType: "lead" | "contact";
  entityId: number;
  change: string;
  updatedAt: number | null;
  fingerprint: string;
}

/**
 * True, with the job recorded as skipped, when the other way of hearing about changes (webhook or
 * events feed) already reported this one: its effects happen once, whichever report came first.
 */
export async function reportedTwice(job: Job, deps: WorkerDeps, reported: ReportedChange): Promise<boolean> {
  const source = reported.fingerprint.startsWith(EVENT_FINGERPRINT_PREFIX) ? "events" : "webhook";
  const result = await deps.db.changeClaims.claim(
    {
      entityType: reported.entityType,
      entityId: reported.entityId,
      change: reported.change,
      // A hook without `updated_at` (Digital Pipeline) is dated by its arrival.
      changedAt: reported.updatedAt ?? Math.floor(job.timestamp / 1000),
      source,
      jobId: job.id!,
    },
    PAIRING_TOLERANCE_SECONDS,
  );
  if (result.claimed) return false;
  const other = source === "events" ? "its webhook" : "Kommo's events feed";
  const ids = reported.entityType === "lead" ? { leadId: reported.entityId } : { contactId: reported.entityId };
  await deps.outcomes.skipped(job, "job", `already synced: the same change came by ${other} (job ${result.pairedWith})`, { vendor: "none", ...ids });
  return true;
}
