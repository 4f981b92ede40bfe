import type { Job } from "bullmq";
import type { Mapping } from "@funnelsync/config";
import type { Db } from "@funnelsync/db";
import type { JobData, JobName } from "@funnelsync/jobs";
import type { KommoClient } from "@funnelsync/kommo-client";
import type { Logger } from "@funnelsync/logger";
import type { LoopsClient } from "@funnelsync/loops-client";
import type { MoosendClient } from "@funnelsync/moosend-client";
import type { FieldWriteEchoes } from "../engagementEcho";
import type { EngagementSync } from "../engagementSync";
import type { OutcomeRecorder } from "../outcomeRecorder";
import type { KommoReader } from "../kommoReader";
import type { KommoWatch } from "../kommoWatch";
import type { LoopsPropertyTypes } from "../loopsPropertyTypes";
import type { MoosendRemovals } from "../moosendRemovals";
import type { MoosendSubscriptions } from "../moosendSubscriptions";
import type { PipelineNames } from "../pipelineNames";

export interface WorkerDeps {
  db: Db;
  kommo: KommoClient;
  moosend: MoosendClient;
  loops: LoopsClient;
  mapping: Mapping;
  outcomes: OutcomeRecorder;
  /** Batched lead and contact look-ups (prefer these to `kommo.getLeads`/`getContacts`). */
  kommoReader: KommoReader;
  /** Batched subscribes (prefer this to `moosend.subscribe`). */
  moosendSubscriptions: MoosendSubscriptions;
  moosendRemovals: MoosendRemovals;
  pipelines: PipelineNames;
  /** Our Kommo webhook's health and the events feed's progress (metrics, /readyz). */
  kommoWatch: KommoWatch;
  loopsProperties: LoopsPropertyTypes;
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
