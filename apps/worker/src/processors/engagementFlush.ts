import type { Processor } from "./types";

/** Writes the engagements stored so far to Kommo in batch calls (one flush runs at a time). */
export const engagementFlush: Processor<"engagement.flush"> = async (job, deps) => {
  if (!deps.engagement) return deps.outcomes.skipped(job, "job", "engagement is off (no engagement block in the mapping)", { vendor: "none" });
  const applied = await deps.engagement.flush();
  deps.logger.debug("worker.engagement: flushed", { applied });
};
