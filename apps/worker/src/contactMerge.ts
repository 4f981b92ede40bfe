import type { Job } from "bullmq";
import { normalizeEmail } from "@funnelsync/config";
import type { ContactLinkRow } from "@funnelsync/db";
import type { KommoContact } from "@funnelsync/kommo-client";
import { contactEmail, loopsUserId } from "./leadSnapshot";
import type { WorkerDeps } from "./processors/types";

/**
 * Kommo merges duplicates in the background (duplicate control, merge widgets): the survivor keeps its
 * id and gains the loser's addresses and leads, and the loser is deleted. We see it either way round:
 * the survivor changed and a contact we synced under one of its addresses is gone, or a contact we
 * synced was deleted and another now holds its address.
 */

/** Contacts we synced under one of the survivor's addresses that Kommo no longer has: merged into it. */
export async function contactsMergedInto(deps: WorkerDeps, survivor: KommoContact): Promise<ContactLinkRow[]> {
  const others = (await deps.db.links.byEmails(survivor.emails)).filter((link) => link.kommoContactId !== survivor.id);
  const found = await Promise.all(others.map((link) => deps.kommo.contact(link.kommoContactId)));
  return others.filter((_, i) => found[i] === null);
}

/**
 * A deleted contact we synced: when exactly one contact now holds its address, it was merged into that
 * one. Otherwise it was deleted outright, and what we keep for it is left to retention and `forget`.
 */
export async function followDeletedContact(job: Job, deps: WorkerDeps, contactId: number): Promise<void> {
  const meta = { vendor: "none" as const, contactId };
  await deps.db.kommoRecords.forgetContacts([contactId]);
  const link = await deps.db.links.get(contactId);
  if (!link) return deps.outcomes.skipped(job, "job", "nothing kept for the deleted contact (never synced, or its merge was followed already)", meta);
  if (await deps.kommo.contact(contactId)) return deps.outcomes.skipped(job, "job", "contact still exists in Kommo (restored?)", meta);
  const readAt = new Date();
  const holders = (await deps.kommo.findContactsByEmail(link.email)).filter((c) => c.id !== contactId);
  // A survivor holds the merged contact's leads now.
  await deps.db.kommoRecords.recordContacts(holders, readAt);
  if (holders.length !== 1) {
    const reason = holders.length === 0 ? "deleted, not merged: no contact holds its address" : "several contacts hold its address: no survivor is guessed";
    return deps.outcomes.skipped(job, "job", reason, { ...meta, email: link.email });
  }
  await adoptMergedContact(job, deps, holders[0]!, link);
}

/**
 * Hands what we keep for a merged-away contact to the survivor; a repeat finds nothing left to do.
 *
 * Loops: our Loops contact keyed by the loser's id is re-keyed to the survivor (`PUT /contacts/update`
 * by e-mail with the new `userId`; it keeps its id, address, subscription and lists) when the survivor
 * syncs that address. Loops gives a `userId` to one contact only, so when the survivor already has a
 * Loops contact of its own, or syncs another address, the loser's Loops contact stays as it is: it
 * holds that address's own subscription state, and deleting it would lose the person's choice.
 *
 * Our rows: the link row moves to the survivor (or goes, when the survivor has its own), Moosend
 * memberships name the survivor and keep their addresses, and consent, kept per address, is not touched.
 */
export async function adoptMergedContact(job: Job, deps: WorkerDeps, survivor: KommoContact, loser: ContactLinkRow): Promise<void> {
  const mergedContactId = loser.kommoContactId;
  const meta = { contactId: survivor.id, email: loser.email, detail: { mergedContactId } };
  const survivorSyncs = contactEmail(deps.mapping, survivor) === loser.email;
  const userId = loopsUserId(deps, survivor.id);
  let rekeyed = false;
  let loopsContactId = loser.loopsContactId;
  if (deps.mapping.usesLoops() && userId && loser.loopsUserId && survivorSyncs) {
    const holder = await deps.loops.findContact({ userId });
    // A holder with this address was re-keyed already: by an earlier attempt, or by a sync of the survivor that matched the address.
    rekeyed = !holder || normalizeEmail(holder.email) === loser.email;
    if (rekeyed) {
      const updated = await deps.outcomes.step(job, `loops.rekey.${mergedContactId}`, { ...meta, vendor: "loops", action: "updateContact" }, () =>
        deps.loops.updateContact({ email: loser.email, userId }),
      );
      loopsContactId = updated?.id ?? holder?.id ?? loopsContactId;
    } else {
      await deps.outcomes.skipped(job, `loops.rekey.${mergedContactId}`, "the survivor has a Loops contact of its own", { ...meta, vendor: "loops" });
    }
  }
  await deps.outcomes.step(job, `merge.${mergedContactId}`, { ...meta, vendor: "none", action: "adoptMergedContact", detail: { mergedContactId, rekeyed } }, async () => {
    // A row under another address would read as an e-mail change on the survivor's next sync.
    if (rekeyed || (survivorSyncs && !(await deps.db.links.get(survivor.id)))) {
      await deps.db.links.upsert({ kommoContactId: survivor.id, email: loser.email, loopsContactId, loopsUserId: rekeyed ? userId! : null });
    }
    await deps.db.memberships.reassignContact(mergedContactId, survivor.id);
    await deps.db.links.remove(mergedContactId);
    await deps.db.kommoRecords.forgetContacts([mergedContactId]);
  });
}
