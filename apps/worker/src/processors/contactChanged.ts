import type { Job } from "bullmq";
import { ERASED_REASON } from "@funnelsync/db";
import type { JobData } from "@funnelsync/jobs";
import { fieldValue, type KommoContact, type KommoLead } from "@funnelsync/kommo-client";
import type { LoopsContactInput } from "@funnelsync/loops-client";
import type { LoopsGateway, VendorAnswer } from "@funnelsync/vendor-gateway";
import { reportedTwice } from "../changeReports";
import { isEngagementEcho } from "../engagementEcho";
import { adoptMergedContact, contactsMergedInto, followDeletedContact } from "../contactMerge";
import { contactEmail, loopsUserId, mappedFields, splitName } from "../leadSnapshot";
import { runIndependently } from "../outcomeRecorder";
import type { Processor, WorkerDeps } from "./types";

type ContactJob = Job<JobData<"kommo.contactChanged">>;

/** The contact's most recently updated lead: lead-level mapped fields come from it. */
async function latestLead(deps: WorkerDeps, contact: KommoContact, linkedLeadIds: number[]): Promise<KommoLead | undefined> {
  const ids = [...new Set([...contact.leadIds, ...linkedLeadIds])];
  if (ids.length === 0) return undefined;
  const found = await deps.kommo.leads(ids);
  return [...found.values()].sort((a, b) => b.updatedAt - a.updatedAt)[0];
}

/**
 * The opt-in checkbox set back to true lifts an opt-out. We read the contact fresh from Kommo, and
 * Kommo acknowledged our own write of `false` (a succeeded opt-out step): seeing `true` now means a
 * person set it again since. Without such a write we cannot tell, and the opt-out stands.
 */
async function explicitOptIn(deps: WorkerDeps, contact: KommoContact, email: string): Promise<boolean> {
  const fieldId = deps.mapping.kommo.optInFieldId;
  if (!fieldId || fieldValue(contact, fieldId) !== true) return false;
  if (!(await deps.db.consent.isWithdrawn(email))) return false;
  const optOuts = await deps.db.outcomes.forEmail(email);
  return optOuts.some((row) => row.action === "optOut" && row.status === "succeeded" && row.contactId === contact.id);
}

/**
 * An e-mail change when Loops contacts are matched by e-mail only (`loops.userId: none`). Loops changes
 * an address only through a `userId`: the contact found under the old address keeps its own userId
 * and gets the new address; one without a userId is re-created under the new address (keeping an
 * opt-out and its lists) and the old one deleted.
 */
async function moveByEmail(loops: LoopsGateway, oldEmail: string, email: string, fields: Omit<LoopsContactInput, "email">): Promise<VendorAnswer<{ id: string }>> {
  const old = await loops.findContact({ email: oldEmail });
  if (old?.userId) return loops.updateContact({ ...fields, email, userId: old.userId });
  const carried = old ? { mailingLists: old.mailingLists, ...(old.subscribed ? {} : { subscribed: false }) } : {};
  const moved = await loops.updateContact({ ...carried, ...fields, email });
  if (old) await loops.deleteContact({ email: oldEmail });
  return moved;
}

/**
 * A contact changed in Kommo: an explicit new opt-in lifts a recorded opt-out; a new e-mail address
 * moves the person (same Loops contact by `userId`, the Moosend lists moved, consent follows the
 * person); otherwise name and mapped fields are refreshed in both ESPs. Contacts Kommo merged into
 * this one, and a deleted contact merged into another, hand over to the survivor (`contactMerge.ts`).
 */
export const contactChanged: Processor<"kommo.contactChanged"> = async (job, deps) => {
  const { contactId, action, updatedAt, fingerprint } = job.data;
  if (action === "deleted") return followDeletedContact(job, deps, contactId);
  if (action === "updated" && (await isEngagementEcho(job, deps, { entityType: "contacts", entityId: contactId, updatedAt, fingerprint }))) return;
  if (action === "updated" && (await reportedTwice(job, deps, { entityType: "contact", entityId: contactId, change: "fields", updatedAt, fingerprint }))) return;
  const contact = await deps.kommo.contact(contactId);
  if (!contact) return deps.outcomes.skipped(job, "job", "contact not found in Kommo (deleted?)", { vendor: "none", contactId });
  const email = contactEmail(deps.mapping, contact);
  if (!email) return deps.outcomes.skipped(job, "job", "contact has no e-mail", { vendor: "none", contactId });
  if ((await deps.db.consent.get(email))?.state === "erased") return deps.outcomes.skipped(job, "job", ERASED_REASON, { vendor: "none", contactId });
  for (const merged of await contactsMergedInto(deps, contact)) await adoptMergedContact(job, deps, contact, merged);
  const link = await deps.db.links.get(contactId);
  const oldEmail = link?.email && link.email !== email ? link.email : undefined;

  if (oldEmail) await deps.db.consent.moveAddress(oldEmail, email);
  if (await explicitOptIn(deps, contact, email)) {
    await deps.db.consent.set({ email, state: "subscribed", source: "kommo", reason: "opt-in set back to true in Kommo", eventRef: job.id });
  }
  // True on this job's retries too, once the first attempt recorded the new opt-in.
  const optedInAgain = (await deps.db.consent.get(email))?.eventRef === job.id;
  const lead = await latestLead(deps, contact, job.data.linkedLeadIds);
  const fields = mappedFields(deps.mapping, lead, contact);
  const meta = { contactId, email, leadId: lead?.id };

  const chains: Array<() => Promise<unknown>> = [];
  if (deps.mapping.usesLoops()) {
    chains.push(async () => {
      const { firstName, lastName } = splitName(contact);
      const userId = loopsUserId(deps, contact.id);
      const written: Omit<LoopsContactInput, "email"> = {
        firstName,
        lastName,
        properties: fields.loops,
        // Only an explicit new opt-in re-subscribes; otherwise the field is left out.
        ...(optedInAgain ? { subscribed: true } : {}),
      };
      const loopsMeta = { ...meta, vendor: "loops" as const, action: "updateContact" };
      const movedByEmail = oldEmail !== undefined && userId === undefined;
      const upserted = await deps.outcomes.step(job, "loops.contact", movedByEmail ? { ...loopsMeta, detail: { oldEmail } } : loopsMeta, () =>
        movedByEmail ? moveByEmail(deps.loops, oldEmail, email, written) : deps.loops.updateContact({ email, userId, ...written }),
      );
      if (oldEmail && userId && !link?.loopsUserId) {
        // No userId link yet: the update above created a contact under the new address.
        await deps.outcomes.step(job, "loops.deleteOld", { ...loopsMeta, action: "deleteContact", detail: { oldEmail } }, () =>
          deps.loops.deleteContact({ email: oldEmail }),
        );
      }
      if (upserted) await deps.db.links.upsert({ kommoContactId: contactId, email, loopsContactId: upserted.id, loopsUserId: userId ?? null });
    });
  }
  const lists = await deps.db.memberships.activeLists(oldEmail ?? email);
  if (lists.length) {
    chains.push(async () => {
      for (const listId of lists) {
        // Someone who opted out is not subscribed: the gateway decides it, and the step is recorded as skipped.
        const subscriber = await deps.outcomes.step(job, `moosend.subscribe.${listId}`, { ...meta, vendor: "moosend", action: "subscribe", detail: { listId } }, () =>
          deps.moosend.subscribe(listId, { email, name: contact.name, customFields: fields.moosend }),
        );
        if (subscriber) await deps.db.memberships.add({ email, listId, subscriberId: subscriber.id, kommoContactId: contactId });
        if (oldEmail) {
          await deps.outcomes.step(job, `moosend.removeOld.${listId}`, { ...meta, vendor: "moosend", action: "remove", detail: { listId, oldEmail } }, () =>
            deps.moosend.remove(listId, oldEmail),
          );
          await deps.db.memberships.markRemoved(oldEmail, listId);
        }
      }
    });
  }
  if (!link && !deps.mapping.usesLoops()) await deps.db.links.upsert({ kommoContactId: contactId, email });
  if (chains.length === 0) return deps.outcomes.skipped(job, "job", "nothing synced for this contact yet", { vendor: "none", ...meta });
  await runIndependently(chains);
  if (oldEmail && !deps.mapping.usesLoops()) await deps.db.links.upsert({ kommoContactId: contactId, email });
};
