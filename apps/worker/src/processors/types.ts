import type { Job } from "bullmq";
import type { Mapping } from "@funnelsync/config";
import type { Db } from "@funnelsync/db";
import type { JobData, JobName } from "@funnelsync/jobs";
import type { Logger } from "@funnelsync/logger";
import type { BurstSignal, KommoGateway, LoopsGateway, MoosendGateway } from "@funnelsync/vendor-gateway";
import type { FieldWriteEchoes } from "../engagementEcho";
import type { EngagementSync } from "../engagementSync";
import type { OutcomeRecorder } from "../outcomeRecorder";
import type { KommoWatch } from "../kommoWatch";

export interface WorkerDeps {
  db: Db;
  /** The vendors, only through the gateway: shared rate limits, batched calls, consent (`@funnelsync/vendor-gateway`). */
  kommo: KommoGateway;
  moosend: MoosendGateway;
  loops: LoopsGateway;
  mapping: Mapping;
  /** Whether Kommo changes are arriving as a burst, in any worker process (the one the gateway's batching reads). */
  burst: Pick<BurstSignal, "changesArriving">;
  outcomes: OutcomeRecorder;
  /** Our Kommo webhook's health and the events feed's progress (metrics, /readyz). */
  kommoWatch: KommoWatch;
  logger: Logger;
  /** Opens and clicks back to Kommo; undefined when the mapping has no `engagement` block. */
  engagement?: EngagementSync;
  /** Tells `update_contact` / `update_lead` webhooks of engagement's own field writes (batched). */
  engagementEchoes: FieldWriteEchoes;
  now: () => Date;
  /** Adds follow-up jobs with their deterministic ids (polling feeds the webhook path this way). */
  enqueue(jobs: Array<{ [K in JobName]: { name: K; data: JobData<K> } }[JobName]>): Promise<void>;
}

/** One processor per job type; `data` has been validated against the catalog's schema. */
export type Processor<K extends JobName> = (job: Job<JobData<K>>, deps: WorkerDeps) => Promise<void>;

export type ProcessorMap = { [K in JobName]: Processor<K> };
