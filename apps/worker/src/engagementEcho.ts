import { setTimeout as sleep } from "node:timers/promises";
import type { Job } from "bullmq";
import { EVENT_FINGERPRINT_PREFIX } from "./changeReports";
import type { WorkerDeps } from "./processors/types";

/** How long a webhook waits for the answer to engagement's write to its entity: about a Kommo call's timeout. */
const ANSWER_WAIT_MS = 10_000;
const ANSWER_POLL_MS = 100;

interface ReportedEdit {
  entityType: "contacts" | "leads";
  entityId: number;
  /** the webhook's `updated_at` (unix s) */
  updatedAt: number | null;
  fingerprint: string;
}

/** The field engagement writes on this kind of entity, unless the mapping also copies or watches it. */
function engagementOnlyField(deps: WorkerDeps, entityType: ReportedEdit["entityType"]): number | undefined {
  const settings = deps.mapping.engagement;
  const fieldId = entityType === "contacts" ? settings?.lastEngagementFieldId : settings?.score?.fieldId;
  const synced = deps.mapping.fields.some((field) => field.kommoFieldId === fieldId) || deps.mapping.kommo.optInFieldId === fieldId;
  return synced ? undefined : fieldId;
}

/**
 * True, with the job recorded as skipped, when an `update_contact` / `update_lead` webhook is
 * engagement's own field write coming back: Kommo stamped the entity with the very `updated_at` it
 * answered our write with, and that field is ours alone, so nothing the platforms get has changed.
 * A write is matched once: another edit in the same second has its own webhook, which syncs (and reads
 * Kommo's state, with both edits in it).
 */
export async function isEngagementEcho(job: Job, deps: WorkerDeps, edit: ReportedEdit): Promise<boolean> {
  const fieldId = engagementOnlyField(deps, edit.entityType);
  // The events feed never reports engagement's fields (the reconciler asks only for the synced ones).
  if (fieldId === undefined || edit.updatedAt === null || edit.fingerprint.startsWith(EVENT_FINGERPRINT_PREFIX)) return false;
  // A webhook can overtake the answer to the write it reports: it waits for that answer.
  for (let waitedMs = 0; ; waitedMs += ANSWER_POLL_MS) {
    const match = await deps.db.engagements.takeFieldWriteEcho(edit.entityType, edit.entityId, edit.updatedAt, ANSWER_WAIT_MS);
    if (match === "ours") break;
    if (match === "other" || waitedMs >= ANSWER_WAIT_MS) return false;
    await sleep(ANSWER_POLL_MS);
  }
  const ids = edit.entityType === "leads" ? { leadId: edit.entityId } : { contactId: edit.entityId };
  const reason = `engagement's own write coming back: only field ${fieldId} changed (Kommo's updated_at ${edit.updatedAt} is our write's)`;
  await deps.outcomes.skipped(job, "job", reason, { vendor: "none", ...ids });
  return true;
}
