import type { Processor } from "./types";

/** A lead deleted in Kommo: recorded, so `history --lead` shows it; its lists are left as they are. */
export const leadDeleted: Processor<"kommo.leadDeleted"> = (job, deps) =>
  deps.outcomes.skipped(job, "job", "lead deleted in Kommo", { vendor: "none", leadId: job.data.leadId });
