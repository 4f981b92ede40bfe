import type { JobData } from "@funnelsync/jobs";
import type { KommoEvent } from "@funnelsync/kommo-client";
import { TUNING } from "@funnelsync/vendor-gateway";
import { isVendorRateLimitError } from "@funnelsync/vendor-http";
import { EVENT_FINGERPRINT_PREFIX } from "../changeReports";
import type { Processor, WorkerDeps } from "./types";

/** Kommo writes an event apart from its change, possibly late: each read starts this far before the last one ended. */
export const EVENTS_OVERLAP_SECONDS = 60;

type KommoJob = Parameters<WorkerDeps["enqueue"]>[0][number];

const { yieldWhileChangesPerSecond: YIELD_WHILE_CHANGES_PER_SECOND, yieldAtMostSeconds: YIELD_AT_MOST_SECONDS } = TUNING.kommoReconcile;

/** Per Kommo account (client): the ids of its EMAIL contact fields, read once. */
const emailFieldIds = new WeakMap<object, Promise<number[]>>();

/** The event types that change what funnelsync syncs: leads added, moved, deleted, and the fields we copy or watch. */
async function eventTypes(deps: WorkerDeps): Promise<string[]> {
  let emails = emailFieldIds.get(deps.kommo);
  if (!emails) {
    emails = deps.kommo.getCustomFields("contacts").then((fields) => fields.filter((f) => f.code === "EMAIL").map((f) => f.id));
    emails.catch(() => emailFieldIds.delete(deps.kommo));
    emailFieldIds.set(deps.kommo, emails);
  }
  const optIn = deps.mapping.kommo.optInFieldId;
  const fieldIds = new Set([...deps.mapping.fields.map((f) => f.kommoFieldId), ...(optIn ? [optIn] : []), ...(await emails)]);
  return ["lead_added", "lead_status_changed", "lead_deleted", "contact_deleted", ...[...fieldIds].map((id) => `custom_field_${id}_value_changed`)];
}

/** The job the webhook of this change would have produced; the fingerprint names the event. */
export function jobForEvent(event: KommoEvent): KommoJob | undefined {
  const { entityId, createdAt: updatedAt } = event;
  const fingerprint = `${EVENT_FINGERPRINT_PREFIX}${event.id}`;
  // Field events of one edit (one entity, one second) make one job.
  const editFingerprint = `${EVENT_FINGERPRINT_PREFIX}${event.entityType}-${entityId}-${updatedAt}`;
  const lead = { leadId: entityId, updatedAt, accountId: null, fingerprint };
  if (event.entityType === "lead") {
    switch (event.type) {
      case "lead_added":
        return { name: "kommo.leadAdded", data: { ...lead, pipelineId: event.statusAfter?.pipelineId ?? null, statusId: event.statusAfter?.statusId ?? null, oldStatusId: null } };
      case "lead_status_changed":
        if (!event.statusAfter) return undefined;
        return {
          name: "kommo.leadStatusChanged",
          data: { ...lead, pipelineId: event.statusAfter.pipelineId, statusId: event.statusAfter.statusId, oldStatusId: event.statusBefore?.statusId ?? null },
        };
      case "lead_deleted":
        return { name: "kommo.leadDeleted", data: { leadId: entityId, pipelineId: null, statusId: null, accountId: null } };
      default:
        return { name: "kommo.leadUpdated", data: { ...lead, pipelineId: null, statusId: null, oldStatusId: null, fingerprint: editFingerprint } };
    }
  }
  if (event.entityType === "contact" && event.type === "contact_deleted") {
    return { name: "kommo.contactChanged", data: { contactId: entityId, action: "deleted", updatedAt, accountId: null, linkedLeadIds: [], fingerprint } };
  }
  if (event.entityType === "contact" && event.type.startsWith("custom_field_")) {
    return { name: "kommo.contactChanged", data: { contactId: entityId, action: "updated", updatedAt, accountId: null, linkedLeadIds: [], fingerprint: editFingerprint } };
  }
  return undefined;
}

/**
 * Reads Kommo's events feed since the watermark (with an overlap, for events written late) and
 * enqueues the job each change's webhook would have produced: a change whose webhook never came is
 * synced all the same, and one whose webhook did lands on that job or is paired with it (see
 * `reportedTwice`). The webhook's health is checked on the way. On the first start the watermark
 * begins now. While a burst of changes arrives, the feed waits (up to `yieldAtMostSeconds` behind):
 * every call its pages take is one the burst's look-ups wait for.
 */
export const kommoReconcile: Processor<"kommo.reconcile"> = async (_job, deps) => {
  await deps.kommoWatch.checkWebhook().catch((err: unknown) => deps.logger.warn("kommo.webhook: cannot read the webhooks", { error: (err as Error).message }));
  const now = Math.floor(deps.now().getTime() / 1000);
  const watermark = await deps.kommoWatch.eventsWatermark();
  if (!watermark) return deps.kommoWatch.saveEventsWatermark({ readTo: now, floor: now });
  const from = Math.max(watermark.floor, watermark.readTo - EVENTS_OVERLAP_SECONDS);
  const types = await eventTypes(deps);
  const events = new Map<string, KommoEvent>(); // pages shift while Kommo writes: an event may come twice
  let complete = true;
  try {
    for (let page = 1; ; page++) {
      if (deps.burst.changesArriving(YIELD_WHILE_CHANGES_PER_SECOND) && now - watermark.readTo < YIELD_AT_MOST_SECONDS) {
        deps.logger.info("kommo.reconcile: a burst of changes is arriving; the next poll reads the feed", { page });
        complete = false;
        break;
      }
      const result = await deps.kommo.listEvents({ types, from, to: now, page });
      for (const event of result.events) events.set(event.id, event);
      if (!result.hasMore) break;
    }
  } catch (err) {
    // Live work has Kommo's whole budget (or Kommo asked us to wait): this poll ends here, without
    // pausing the queue, and the next one reads the same window again.
    if (!isVendorRateLimitError(err)) throw err;
    deps.logger.info("kommo.reconcile: Kommo's budget is taken by live work; the next poll goes on", { waitMs: err.retryAfterMs });
    complete = false;
  }
  const jobs = [...events.values()]
    .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))
    .map(jobForEvent)
    .filter((job): job is KommoJob => job !== undefined);
  if (jobs.length) await deps.enqueue(jobs);
  if (!complete) return;
  await deps.kommoWatch.saveEventsWatermark({ readTo: now, floor: watermark.floor });
};
