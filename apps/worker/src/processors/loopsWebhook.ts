import { ERASED_REASON } from "@funnelsync/db";
import { applyEspSignal, type EspSignal } from "../espSignal";
import type { Processor } from "./types";

const KIND_OF: Record<string, EspSignal["kind"]> = {
  "contact.unsubscribed": "unsubscribed",
  "email.hardBounced": "hardBounce",
  "email.softBounced": "softBounce",
  "email.spamReported": "spam",
  "contact.mailingList.unsubscribed": "listUnsubscribed",
  "email.resubscribed": "resubscribed",
};

/** Why an event changes nothing here, where that is not obvious. */
const NO_ACTION: Record<string, string> = {
  // Joining one list is not consent to all marketing, and the mapping names no Loops mailing lists.
  "contact.mailingList.subscribed": "joining a Loops mailing list lifts no opt-out (the mapping maps no Loops lists)",
};

/** A verified Loops webhook (ingest checked the signature); events we do not act on are recorded as skipped. */
export const loopsWebhook: Processor<"loops.webhook"> = async (job, deps) => {
  const { eventName, email } = job.data;
  // Loops reports our own `forget --vendors` deletion back (contact.deleted, contact.unsubscribed): nothing of it is kept.
  if (email && (await deps.db.consent.get(email))?.state === "erased") return deps.outcomes.skipped(job, "job", ERASED_REASON, { vendor: "none" });
  const kind = KIND_OF[eventName];
  if (!kind) return deps.outcomes.skipped(job, "job", NO_ACTION[eventName] ?? `event ${eventName} needs no action`, { vendor: "none", email });
  if (!email) return deps.outcomes.skipped(job, "job", "event names no e-mail address", { vendor: "none" });
  const context = job.data.mailingListId ? `list ${job.data.mailingListId}` : (job.data.sourceType ?? undefined);
  const at = job.data.eventTime !== null ? new Date(job.data.eventTime * 1000) : undefined;
  await applyEspSignal(job, deps, { email, kind, source: "loops", context, at });
};
