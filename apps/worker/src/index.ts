export { startWorker } from "./startWorker";
export type { RunningWorker, StartWorkerOptions } from "./startWorker";
export { createWorkerMetrics } from "./metrics";
export type { WorkerMetrics } from "./metrics";
export { transactionalVariableNames } from "./transactionalVariables";
export { KommoWatch } from "./kommoWatch";
export { kommoReconcile } from "./processors/kommoReconcile";
export type { WorkerDeps } from "./processors/types";
