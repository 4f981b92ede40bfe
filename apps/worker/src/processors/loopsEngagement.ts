import type { Processor } from "./types";

/** An open, click or delivery from Loops: stored once (by its webhook-id), then written to Kommo by the next flush. */
export const loopsEngagement: Processor<"loops.engagement"> = async (job, deps) => {
  const { webhookId, kind, eventTime, email, messageId, subject, origin } = job.data;
  if (!deps.engagement) return deps.outcomes.skipped(job, "job", "engagement is off (no engagement block in the mapping)", { vendor: "none", email });
  const occurredAt = eventTime === null ? deps.now() : new Date(eventTime * 1000);
  await deps.db.engagements.record({ source: "loops", eventKey: webhookId, email, kind, messageId, subject, origin, occurredAt });
  // Also when it was stored before: the attempt that stored it may have failed before this.
  await deps.engagement.scheduleFlush();
};
