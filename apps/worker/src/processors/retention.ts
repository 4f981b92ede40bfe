import type { Processor } from "./types";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Deletes received events, outcome rows and engagements older than the retention period, in small batches; consent is kept. */
export const retention: Processor<"maintenance.retention"> = async (job, deps) => {
  const before = new Date(deps.now().getTime() - job.data.retentionDays * DAY_MS);
  const pruned = await deps.db.retention.prune(before);
  deps.logger.info("worker.retention: pruned", { before: before.toISOString(), ...pruned });
};
