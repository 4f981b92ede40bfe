import type { Job } from "bullmq";
import { normalizeEmail } from "@funnelsync/config";
import { ERASED_REASON, type ConsentState } from "@funnelsync/db";
import type { KommoContact } from "@funnelsync/kommo-client";
import { isFirstStart } from "./outcomeRecorder";
import type { WorkerDeps } from "./processors/types";

/** What an e-mail platform told us about one address, in our own words. */
export interface EspSignal {
  email: string;
  /** `resubscribed`: the person opted back in themselves (a Loops preference centre), which lifts an opt-out. */
  kind: "unsubscribed" | "hardBounce" | "softBounce" | "spam" | "listUnsubscribed" | "resubscribed";
  source: "loops" | "moosend";
  /** e.g. the list or campaign it concerns, for the note. */
  context?: string;
  /** When the vendor says it happened; the consent ledger records it (now when unknown). */
  at?: Date;
}

const CONSENT_FOR: Partial<Record<EspSignal["kind"], ConsentState>> = {
  unsubscribed: "unsubscribed",
  hardBounce: "bounced",
  spam: "complained",
  resubscribed: "subscribed",
};

const SOURCE_NAME = { loops: "Loops", moosend: "Moosend" } as const;
const WON_OR_LOST = new Set([142, 143]);
const DAY_MS = 24 * 60 * 60 * 1000;

function noteText(signal: EspSignal): string {
  const where = `${SOURCE_NAME[signal.source]}${signal.context ? ` (${signal.context})` : ""}`;
  switch (signal.kind) {
    case "unsubscribed":
      return `funnelsync: ${signal.email} unsubscribed from e-mail in ${where}. Marketing e-mail stopped; set the opt-in field back to true only with a new explicit opt-in.`;
    case "hardBounce":
      return `funnelsync: e-mail to ${signal.email} bounced permanently in ${where}. Please check the address.`;
    case "softBounce":
      return `funnelsync: e-mail to ${signal.email} bounced temporarily in ${where}; it will be retried.`;
    case "spam":
      return `funnelsync: ${signal.email} marked an e-mail from ${where} as spam. Marketing e-mail stopped.`;
    case "listUnsubscribed":
      return `funnelsync: ${signal.email} left a mailing list in ${where}; other e-mail continues.`;
    case "resubscribed":
      return `funnelsync: ${signal.email} re-subscribed to e-mail themselves in ${where} (their own consent). Marketing e-mail may resume; the opt-in field is set back to true.`;
  }
}

/**
 * Is this signal news? A hard bounce in Loops is followed by `contact.unsubscribed`, a Moosend
 * unsubscribe can arrive by webhook and by polling: the card gets one entry per fact, not per report.
 */
function alreadyKnown(signal: EspSignal, current: ConsentState | undefined): boolean {
  if (signal.kind === "resubscribed") return current === "subscribed";
  if (!current || current === "subscribed") return false;
  if (signal.kind === "unsubscribed") return true; // any withdrawal already covers it
  return CONSENT_FOR[signal.kind] === current;
}

/**
 * Brings one e-mail platform signal into Kommo and the consent ledger: the ledger first (so the
 * forward sync stops at once, even while Kommo is down), then for every Kommo contact with exactly
 * this address: a note on the contact and its open leads, a task (hard bounce), a tag, and the
 * opt-in checkbox set to false (true again when the person re-subscribed themselves).
 */
export async function applyEspSignal(job: Job, deps: WorkerDeps, signal: EspSignal): Promise<void> {
  const email = normalizeEmail(signal.email);
  const { outcomes } = deps;
  const consent = await deps.db.consent.get(email);
  if (consent?.state === "erased") return outcomes.skipped(job, "job", ERASED_REASON, { vendor: "none" });
  // Recorded by this job's own earlier attempt: still news for the rest of the job, which may have
  // failed before its notes, task and tag were all in Kommo.
  const ownEarlierAttempt = consent !== null && consent.eventRef === job.id;
  const known = !ownEarlierAttempt && alreadyKnown(signal, consent?.state);
  const newState = CONSENT_FOR[signal.kind];
  if (newState && !known && !ownEarlierAttempt) {
    await deps.db.consent.set({ email, state: newState, source: signal.source, reason: signal.kind, eventRef: job.id, at: signal.at });
  }

  if (newState && newState !== "subscribed" && !known) await withdrawElsewhere(job, deps, signal, email);

  const contacts = await deps.kommo.findContactsByEmail(email);
  if (contacts.length === 0) {
    return outcomes.skipped(job, "job", "no Kommo contact has this e-mail", { vendor: "kommo", email });
  }
  for (const contact of contacts) await updateContact(job, deps, signal, email, contact, known);
  if (known && signal.kind !== "unsubscribed") {
    await outcomes.skipped(job, "kommo.note", `already recorded: ${consent?.state} via ${consent?.source}`, { vendor: "kommo", email });
  }
}

/**
 * Consent belongs to the person, not to one platform: an opt-out reported by one ESP stops marketing
 * in the other too (Loops `subscribed: false`; the Moosend lists we put the address in).
 */
async function withdrawElsewhere(job: Job, deps: WorkerDeps, signal: EspSignal, email: string): Promise<void> {
  const meta = { email, detail: { reportedBy: signal.source } };
  if (signal.source !== "loops" && deps.mapping.usesLoops()) {
    await deps.outcomes.step(job, "loops.unsubscribe", { ...meta, vendor: "loops", action: "unsubscribe" }, () =>
      deps.loops.updateContact({ email, subscribed: false }),
    );
  }
  if (signal.source !== "moosend") {
    for (const listId of await deps.db.memberships.activeLists(email)) {
      await deps.outcomes.step(job, `moosend.unsubscribe.${listId}`, { ...meta, vendor: "moosend", action: "unsubscribe" }, () =>
        deps.moosend.unsubscribe(listId, email),
      );
    }
  }
}

async function updateContact(job: Job, deps: WorkerDeps, signal: EspSignal, email: string, contact: KommoContact, known: boolean): Promise<void> {
  const { mapping, outcomes, kommo } = deps;
  const meta = { vendor: "kommo" as const, contactId: contact.id, email };
  const consentAfter = CONSENT_FOR[signal.kind];

  if (!known) {
    const leads = contact.leadIds.length ? [...(await kommo.leads(contact.leadIds)).values()] : [];
    const openLeadIds = leads.filter((lead) => !WON_OR_LOST.has(lead.statusId)).map((lead) => lead.id);
    const text = noteText({ ...signal, email });
    // Kommo has no idempotency key and a repeated POST duplicates a note or task. An earlier attempt may
    // have reached Kommo and lost its answer (a timeout, a crash), so a later one first looks among
    // what the entity got since the job was created (a little before: Kommo stamps whole seconds).
    const retried = !isFirstStart(job);
    const since = new Date(job.timestamp - 2_000);
    const lacksNote = async (entityType: "contacts" | "leads", entityId: number) =>
      !retried || !(await kommo.recentNoteTexts(entityType, entityId, since)).includes(text);
    await outcomes.step(job, `kommo.note.contact-${contact.id}`, { ...meta, action: "addNote" }, async () =>
      (await lacksNote("contacts", contact.id)) ? kommo.addNotes("contacts", [{ entityId: contact.id, text }]) : [],
    );
    if (openLeadIds.length) {
      await outcomes.step(job, `kommo.note.leads-${contact.id}`, { ...meta, action: "addNote", detail: { leadIds: openLeadIds } }, async () => {
        const lacking = await Promise.all(openLeadIds.map((id) => lacksNote("leads", id)));
        const leadIds = openLeadIds.filter((_, i) => lacking[i]);
        return leadIds.length ? kommo.addNotes("leads", leadIds.map((entityId) => ({ entityId, text }))) : [];
      });
    }
    if (signal.kind === "hardBounce" && mapping.kommo.taskOnHardBounce) {
      const taskText = `Check the e-mail address ${email}: messages to it bounce permanently.`;
      await outcomes.step(job, `kommo.task.contact-${contact.id}`, { ...meta, action: "addTask" }, async () =>
        retried && (await kommo.recentOpenTaskTexts("contacts", contact.id, since)).includes(taskText)
          ? undefined
          : kommo.addTask({
              text: taskText,
              completeTill: new Date(deps.now().getTime() + DAY_MS),
              entityType: "contacts",
              entityId: contact.id,
              responsibleUserId: contact.responsibleUserId ?? undefined,
            }),
      );
    }
  }

  const tag = { unsubscribed: mapping.kommo.tags.unsubscribed, hardBounce: mapping.kommo.tags.hardBounce, spam: mapping.kommo.tags.spam }[
    signal.kind as "unsubscribed" | "hardBounce" | "spam"
  ];
  const tagsToAdd = !known && tag ? [tag] : [];
  const optIn = consentAfter && mapping.kommo.optInFieldId ? [{ fieldId: mapping.kommo.optInFieldId, value: consentAfter === "subscribed" }] : [];
  const action = optIn.length === 0 ? "tag" : consentAfter === "subscribed" ? "optIn" : "optOut";
  if (tagsToAdd.length || optIn.length) {
    await outcomes.step(job, `kommo.contact.contact-${contact.id}`, { ...meta, action, detail: { tagsToAdd } }, () =>
      kommo.updateContact(contact.id, { tagsToAdd, customFields: optIn }),
    );
  }
}
