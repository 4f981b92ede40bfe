import { reportedTwice } from "../changeReports";
import type { Processor } from "./types";
import { syncLead } from "./syncLead";

/** A lead moved to another stage: its list, its properties and the stage's events (once, however the move was reported). */
export const leadStatusChanged: Processor<"kommo.leadStatusChanged"> = async (job, deps) => {
  const { leadId, pipelineId, statusId, updatedAt, fingerprint } = job.data;
  const change = `status:${pipelineId ?? "any"}:${statusId ?? "any"}`;
  if (await reportedTwice(job, deps, { entityType: "lead", entityId: leadId, change, updatedAt, fingerprint })) return;
  await syncLead(job, deps, "statusChanged");
};
