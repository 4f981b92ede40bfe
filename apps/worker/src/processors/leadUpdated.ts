import { reportedTwice } from "../changeReports";
import { isEngagementEcho } from "../engagementEcho";
import type { Processor } from "./types";
import { syncLead } from "./syncLead";

/** A lead's fields changed without a move: refresh list membership and properties, fire no events. */
export const leadUpdated: Processor<"kommo.leadUpdated"> = async (job, deps) => {
  const { leadId, updatedAt, fingerprint } = job.data;
  if (await isEngagementEcho(job, deps, { entityType: "leads", entityId: leadId, updatedAt, fingerprint })) return;
  if (await reportedTwice(job, deps, { entityType: "lead", entityId: leadId, change: "fields", updatedAt, fingerprint })) return;
  await syncLead(job, deps, "updated");
};
