export { startIngest } from "./startIngest";
export type { RunningIngest } from "./startIngest";
export { createApp } from "./app";
export type { IngestAppOptions } from "./app";
export { createEnqueuer } from "./enqueuer";
export type { Enqueuer } from "./enqueuer";
export { createIngestMetrics } from "./metrics";
export { jobForKommoChange, jobsForKommoChanges, readKommoBody } from "./routes/kommo";
