import { isJobName, parseJobData } from "@funnelsync/jobs";
import type { Processor, WorkerDeps } from "./types";

type JobToAdd = Parameters<WorkerDeps["enqueue"]>[0][number];

/**
 * Splits a batch that ingest wrote under load into the jobs it carries, each with its deterministic
 * id, so redeliveries still land on existing jobs. A member that does not parse is dropped and
 * logged: ingest built it, so it can only be a version mismatch, and the others must not wait on it.
 */
export const ingestBatch: Processor<"ingest.batch"> = async (job, deps) => {
  const jobs: JobToAdd[] = [];
  for (const member of job.data.jobs) {
    if (!isJobName(member.name)) {
      deps.logger.error("worker.ingestBatch: unknown job in batch", { name: member.name });
      continue;
    }
    try {
      jobs.push({ name: member.name, data: parseJobData(member.name, member.data) } as JobToAdd);
    } catch (error) {
      deps.logger.error("worker.ingestBatch: bad job in batch", { name: member.name, error });
    }
  }
  await deps.enqueue(jobs);
};
