import type { Job } from "bullmq";
import type { StageMapping } from "@funnelsync/config";
import type { KommoContact } from "@funnelsync/kommo-client";
import type { LoopsEventContact } from "@funnelsync/loops-client";
import { ERASED_REASON } from "@funnelsync/db";
import type { JobData } from "@funnelsync/jobs";
import { loopsUserId, mappedFields, readLead, splitName, type LeadSnapshot } from "../leadSnapshot";
import { runIndependently } from "../outcomeRecorder";
import { transactionalVariables } from "../transactionalVariables";
import type { WorkerDeps } from "./types";

export type LeadTrigger = "added" | "statusChanged" | "updated";
type LeadJob = Job<JobData<"kommo.leadStatusChanged">>;

/**
 * Brings the ESPs in line with one lead: its main contact in the stage's Moosend list with every
 * mapped field, the Loops contact upserted, and the events the change calls for. Moosend and Loops
 * run independently, each step recorded once.
 */
export async function syncLead(job: LeadJob, deps: WorkerDeps, trigger: LeadTrigger): Promise<void> {
  const { leadId } = job.data;
  const resolved = await readLead(deps, leadId);
  if (!resolved.ok) {
    return deps.outcomes.skipped(job, "job", resolved.reason, { vendor: "none", leadId, contactId: resolved.contactId });
  }
  const snapshot = resolved.snapshot;
  const { lead, contact, email } = snapshot;
  const meta = { leadId, contactId: contact.id, email };
  const fields = mappedFields(deps.mapping, lead, contact);
  const consent = await deps.db.consent.get(email);
  // Nothing is sent anywhere about a person who asked to be forgotten, and their address is not recorded again.
  if (consent?.state === "erased") return deps.outcomes.skipped(job, "job", ERASED_REASON, { vendor: "none", leadId, contactId: contact.id });
  const usesLoops = deps.mapping.usesLoops();
  const elsewhere = job.data.statusId !== null && (lead.statusId !== job.data.statusId || lead.pipelineId !== job.data.pipelineId);
  // Kommo's state wins when it is at least as new as the change (a late or repeated delivery); a
  // change without `updated_at` (Digital Pipeline hooks, a hand-made call) is taken at its word.
  const movedOn = elsewhere && (trigger === "added" || (job.data.updatedAt !== null && lead.updatedAt >= job.data.updatedAt));

  if (trigger === "statusChanged" && movedOn) {
    // Coalesced: list membership and properties follow the lead's latest state, which the newer
    // change's job syncs (so a late delivery never moves anyone back). The stage's Loops events still
    // fire once: the person did pass through it.
    const passed = job.data.pipelineId !== null ? deps.mapping.stage(job.data.pipelineId, job.data.statusId!) : undefined;
    if (!usesLoops || !(passed?.loops?.event || passed?.loops?.transactionalId)) {
      const reason = `superseded: the lead is now in stage ${lead.pipelineId}/${lead.statusId}`;
      return deps.outcomes.skipped(job, "job", reason, { vendor: "none", ...meta });
    }
    const at = { pipelineId: job.data.pipelineId!, statusId: job.data.statusId!, stage: passed };
    return syncLoops(job, deps, snapshot, at, { upsert: false, events: [passed.loops?.event], transactional: true }, fields.loops);
  }

  // A lead that moved on before its "added" job ran gets its stage from the status change's own job.
  const where = trigger === "statusChanged" && elsewhere ? { pipelineId: job.data.pipelineId!, statusId: job.data.statusId! } : { pipelineId: lead.pipelineId, statusId: lead.statusId };
  const stage = trigger === "added" && movedOn ? undefined : deps.mapping.stage(where.pipelineId, where.statusId);
  const synced = Boolean(stage) || (usesLoops && trigger === "added");
  const leaving = await listsLeftBehind(deps, { leadId, contact, email }, [stage?.moosend?.listId, stageListOf(deps, lead)]);
  if (!synced && leaving.length === 0) {
    return deps.outcomes.skipped(job, "job", `stage ${where.pipelineId}/${where.statusId} is not mapped`, { vendor: "none", ...meta });
  }
  const at = { ...where, stage };
  const events = trigger === "updated" ? [] : [trigger === "added" ? deps.mapping.loops.onLeadAdded?.event : undefined, stage?.loops?.event];

  const chains: Array<() => Promise<unknown>> = [];
  if (stage?.moosend || leaving.length > 0) {
    chains.push(async () => {
      // In the new list first, then out of the old ones: never on neither for a moment.
      if (stage?.moosend) await subscribeToMoosend(job, deps, snapshot, stage.moosend.listId, fields.moosend);
      for (const listId of leaving) await removeFromMoosend(job, deps, meta, listId);
    });
  }
  if (usesLoops && synced) chains.push(() => syncLoops(job, deps, snapshot, at, { upsert: true, events, transactional: trigger !== "updated" }, fields.loops));
  await runIndependently(chains);
}

const sameList = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const stageListOf = (deps: WorkerDeps, l: { pipelineId: number; statusId: number }) => deps.mapping.stage(l.pipelineId, l.statusId)?.moosend?.listId;

/**
 * The `removeOnExit` lists we put the person on that the lead does not keep (`keptByLead`: the stage this job
 * syncs and the lead's stage in Kommo, since a late "added" job syncs no stage and must not undo the
 * newer one's list), unless another lead of theirs (as its main contact) sits in a stage that names the list.
 */
export async function listsLeftBehind(
  deps: WorkerDeps,
  { leadId, contact, email }: { leadId: number; contact: Pick<KommoContact, "id" | "leadIds"> | null; email: string },
  keptByLead: Array<string | undefined>,
): Promise<string[]> {
  const removable = deps.mapping.moosendListsLeftOnExit();
  if (removable.length === 0) return [];
  const kept = keptByLead.filter((listId): listId is string => listId !== undefined);
  let leaving = (await deps.db.memberships.activeLists(email)).filter(
    (listId) => removable.some((r) => sameList(r, listId)) && !kept.some((k) => sameList(k, listId)),
  );
  if (leaving.length === 0) return [];
  const others = await Promise.all((contact?.leadIds ?? []).filter((id) => id !== leadId).map((id) => deps.kommo.lead(id)));
  for (const other of others) {
    const held = other && other.mainContactId === contact?.id ? stageListOf(deps, other) : undefined;
    if (held) leaving = leaving.filter((listId) => !sameList(listId, held));
  }
  return leaving;
}

/** Moosend's remove, not an unsubscribe: the person leaves the list with their consent untouched. */
export async function removeFromMoosend(job: Job, deps: WorkerDeps, who: { leadId: number; contactId: number | null; email: string }, listId: string): Promise<void> {
  const { email } = who;
  const meta = { vendor: "moosend" as const, leadId: who.leadId, contactId: who.contactId, email, action: "remove", detail: { listId } };
  await deps.outcomes.step(job, `moosend.remove.${listId}`, meta, () => deps.moosend.remove(listId, email));
  await deps.db.memberships.markRemoved(email, listId);
}

async function subscribeToMoosend(
  job: LeadJob,
  deps: WorkerDeps,
  { contact, email, lead }: LeadSnapshot,
  listId: string,
  customFields: Record<string, string>,
): Promise<void> {
  const meta = { vendor: "moosend" as const, leadId: lead.id, contactId: contact.id, email, detail: { listId } };
  // Someone who opted out is not subscribed: the gateway decides it, and the step is recorded as skipped.
  const subscriber = await deps.outcomes.step(job, "moosend.subscribe", { ...meta, action: "subscribe" }, () =>
    deps.moosend.subscribe(listId, { email, name: contact.name, customFields }),
  );
  if (subscriber) await deps.db.memberships.add({ email, listId, subscriberId: subscriber.id, kommoContactId: contact.id });
}

/** Where the events happen: the stage the person entered, which a coalesced job names itself. */
interface StageAt {
  pipelineId: number;
  statusId: number;
  stage: StageMapping | undefined;
}

async function syncLoops(
  job: LeadJob,
  deps: WorkerDeps,
  { lead, contact, email }: LeadSnapshot,
  at: StageAt,
  what: { upsert: boolean; events: Array<string | undefined>; transactional: boolean },
  properties: Record<string, string | number | boolean | null>,
): Promise<void> {
  const meta = { vendor: "loops" as const, leadId: lead.id, contactId: contact.id, email };
  const { firstName, lastName } = splitName(contact);
  const userId = loopsUserId(deps, contact.id);
  const eventNames = [...new Set(what.events.filter((e): e is string => Boolean(e)))];
  // `subscribed` is never written here: sending true would re-subscribe someone who opted out.
  const fields: LoopsEventContact | undefined = what.upsert
    ? {
        firstName,
        lastName,
        source: deps.mapping.loops.source,
        userGroup: at.stage?.loops?.userGroup ?? deps.mapping.loops.userGroup,
        properties,
      }
    : undefined;
  if (fields && eventNames.length === 0) {
    const upserted = await deps.outcomes.step(job, "loops.contact", { ...meta, action: "updateContact" }, () =>
      deps.loops.updateContact({ email, userId, ...fields }),
    );
    if (upserted) await deps.db.links.upsert({ kommoContactId: contact.id, email, loopsContactId: upserted.id, loopsUserId: userId ?? null });
  }
  if (eventNames.length > 0) {
    const { pipelineName, stageName } = await deps.kommo.stageNames(at.pipelineId, at.statusId);
    const eventProperties = { leadId: lead.id, leadName: lead.name, price: lead.price ?? 0, pipelineName, stageName };
    for (const [i, eventName] of eventNames.entries()) {
      // The first event carries the contact's fields: one call upserts the contact and fires the event.
      const carried = i === 0 ? fields : undefined;
      const sent = await deps.outcomes.step(job, `loops.event.${eventName}`, { ...meta, action: "sendEvent", detail: { eventName } }, (key) =>
        deps.loops.sendEvent({ eventName, email, userId, eventProperties, contact: carried }, key),
      );
      if (sent && carried) await deps.db.links.upsert({ kommoContactId: contact.id, email, loopsUserId: userId ?? null });
    }
  }

  const transactionalId = what.transactional ? at.stage?.loops?.transactionalId : undefined;
  if (!transactionalId) return;
  // One welcome per won deal, whichever job or redelivery gets here first.
  const dealKey = `funnelsync-tx-${transactionalId}-lead-${lead.id}`;
  const txMeta = { ...meta, action: "sendTransactional", idempotencyKey: dealKey, detail: { transactionalId } };
  const sent = await deps.outcomes.succeededBefore(lead.id, "loops.transactional", dealKey);
  // Sent by this job's own earlier attempt: `step` skips it as done and keeps the row that says so.
  if (sent && sent.jobId !== job.id) {
    return deps.outcomes.skipped(job, "loops.transactional", "already sent for this deal", txMeta);
  }
  const dataVariables = transactionalVariables(properties, { firstName, name: contact.name, dealValue: lead.price ?? 0 });
  await deps.outcomes.step(job, "loops.transactional", txMeta, (key) =>
    deps.loops.sendTransactional({ transactionalId, email, dataVariables }, key),
  );
}
