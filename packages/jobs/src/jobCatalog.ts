import { z } from "zod";

const id = z.number().int().positive();
const nullableId = id.nullable();

const leadChange = z.object({
  leadId: id,
  pipelineId: nullableId,
  statusId: nullableId,
  oldStatusId: nullableId,
  /** Kommo's `updated_at` (unix s) of the change: part of its identity, and orders late redeliveries. */
  updatedAt: z.number().int().nullable(),
  accountId: nullableId,
  /** A hash of the entity as Kommo delivered it: tells two edits in one second apart. */
  fingerprint: z.string().min(1),
});

const contactChange = z.object({
  contactId: id,
  /** `deleted`: Kommo deleted the contact, which is how a merge ends for the duplicate merged away. */
  action: z.enum(["added", "updated", "deleted"]),
  updatedAt: z.number().int().nullable(),
  accountId: nullableId,
  linkedLeadIds: z.array(id),
  fingerprint: z.string().min(1),
});

const loopsWebhook = z.object({
  /** Standard Webhooks `webhook-id`: the same for every redelivery of one event. */
  webhookId: z.string().min(1),
  eventName: z.string().min(1),
  eventTime: z.number().nullable(),
  contactId: z.string().nullable(),
  email: z.string().nullable(),
  userId: z.string().nullable(),
  mailingListId: z.string().nullable(),
  sourceType: z.string().nullable(),
});

/** An open, click or delivery Loops reported (`email.opened|clicked|delivered`). */
const loopsEngagement = z.object({
  webhookId: z.string().min(1),
  kind: z.enum(["opened", "clicked", "delivered"]),
  eventTime: z.number().nullable(),
  email: z.string().min(1),
  /** Loops' `email.id`: the message, one note per message and kind. */
  messageId: z.string().min(1),
  subject: z.string().nullable(),
  /** e.g. `campaign cm4t1s…`: where the message came from. */
  origin: z.string().nullable(),
});

const moosendWebhook = z.object({
  subscriberId: z.string().min(1),
  tags: z.array(z.string()),
  /** Present when the automation step sends them; otherwise the worker looks them up. */
  email: z.string().nullable(),
  listId: z.string().nullable(),
  /** Distinguishes two genuine events for one subscriber (the body hash); redeliveries share it. */
  deliveryHash: z.string().min(1),
});

/**
 * Which queue a job travels on: Kommo's changes, what the e-mail platforms report back, the
 * batches ingest writes under load (each split into the jobs above by the worker), and the worker's
 * own housekeeping.
 */
export const QUEUES = {
  kommo: "kommo-events",
  esp: "esp-events",
  ingest: "ingest-batches",
  maintenance: "maintenance",
  /** Opens, clicks and deliveries: never in front of an unsubscribe or bounce on the ESP queue. */
  engagement: "engagement-events",
  /** One engagement write to Kommo at a time, so two never add the same note. */
  engagementFlush: "engagement-flush",
} as const;
export type QueueKey = keyof typeof QUEUES;

/**
 * Every job funnelsync runs: its queue and payload schema. The worker's processor map is typed
 * from this, so a job with no processor does not compile. Payloads carry ids, never credentials.
 */
export const jobCatalog = {
  "kommo.leadAdded": { queue: "kommo", payload: leadChange },
  "kommo.leadStatusChanged": { queue: "kommo", payload: leadChange },
  "kommo.leadUpdated": { queue: "kommo", payload: leadChange },
  "kommo.contactChanged": { queue: "kommo", payload: contactChange },
  "kommo.leadDeleted": { queue: "kommo", payload: z.object({ leadId: id, pipelineId: nullableId, statusId: nullableId, accountId: nullableId }) },
  "loops.webhook": { queue: "esp", payload: loopsWebhook },
  "moosend.webhook": { queue: "esp", payload: moosendWebhook },
  "loops.engagement": { queue: "engagement", payload: loopsEngagement },
  /** Reads opens and clicks of the Moosend campaigns sent to mapped lists (every MOOSEND_POLL_SECONDS). */
  "moosend.engagementPoll": { queue: "engagement", payload: z.object({ requestedAt: z.number().int().optional() }) },
  /** Writes the engagements recorded so far to Kommo; `window` (ms since epoch / window length) names one coalescing window. */
  "engagement.flush": { queue: "engagementFlush", payload: z.object({ window: z.number().int() }) },
  "ingest.batch": {
    queue: "ingest",
    payload: z.object({
      /** Random: batches are not deduplicated, the jobs they carry are (by their own ids, when split). */
      batchId: z.string().min(1),
      jobs: z.array(z.object({ name: z.string(), data: z.unknown() })).min(1),
    }),
  },
  "moosend.poll": { queue: "esp", payload: z.object({ listId: z.string().optional(), requestedAt: z.number().int().optional() }) },
  /** Daily: deletes received events, outcome rows and engagements older than `retentionDays` (RETENTION_DAYS). */
  "maintenance.retention": { queue: "maintenance", payload: z.object({ retentionDays: z.number().int().min(1) }) },
  /** Reads Kommo's events feed for changes whose webhook never came; polls run one at a time on this queue. */
  "kommo.reconcile": { queue: "esp", payload: z.object({ requestedAt: z.number().int().optional() }) },
} as const satisfies Record<string, { queue: QueueKey; payload: z.ZodType }>;

export type JobName = keyof typeof jobCatalog;
export type JobData<K extends JobName> = z.infer<(typeof jobCatalog)[K]["payload"]>;

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(jobCatalog, name);
}

export function queueNameFor(name: JobName): string {
  return QUEUES[jobCatalog[name].queue];
}

/** Validates a payload against its schema; throws zod's error for a bad one. */
export function parseJobData<K extends JobName>(name: K, data: unknown): JobData<K> {
  return jobCatalog[name].payload.parse(data) as JobData<K>;
}

/** Whether a payload passes its schema: ingest refuses what the worker would refuse. */
export function isValidJobData<K extends JobName>(name: K, data: unknown): data is JobData<K> {
  return jobCatalog[name].payload.safeParse(data).success;
}

/** BullMQ rejects `:` in custom ids; vendor ids may carry anything. */
function idPart(value: string | number | null): string {
  return value === null ? "none" : String(value).replace(/[^A-Za-z0-9_-]/g, "-");
}

/**
 * The job id derived from the vendor's own event identity, so that a repeated delivery (Kommo's
 * status + update pair, its retries, a Loops redelivery) lands on the existing job and runs once.
 */
export function jobIdFor<K extends JobName>(name: K, data: JobData<K>): string {
  switch (name) {
    case "kommo.leadAdded": {
      const d = data as JobData<"kommo.leadAdded">;
      return `kommo-lead-${d.leadId}-added`;
    }
    case "kommo.leadStatusChanged": {
      const d = data as JobData<"kommo.leadStatusChanged">;
      return `kommo-lead-${d.leadId}-status-${idPart(d.pipelineId)}-${idPart(d.statusId)}-${idPart(d.updatedAt)}`;
    }
    case "kommo.leadUpdated": {
      const d = data as JobData<"kommo.leadUpdated">;
      return `kommo-lead-${d.leadId}-update-${idPart(d.updatedAt)}-${idPart(d.fingerprint)}`;
    }
    case "kommo.contactChanged": {
      const d = data as JobData<"kommo.contactChanged">;
      if (d.action === "added") return `kommo-contact-${d.contactId}-added`;
      if (d.action === "deleted") return `kommo-contact-${d.contactId}-deleted`;
      return `kommo-contact-${d.contactId}-update-${idPart(d.updatedAt)}-${idPart(d.fingerprint)}`;
    }
    case "kommo.leadDeleted": {
      const d = data as JobData<"kommo.leadDeleted">;
      return `kommo-lead-${d.leadId}-deleted`;
    }
    case "kommo.reconcile":
      return `kommo-reconcile-${idPart((data as JobData<"kommo.reconcile">).requestedAt ?? null)}`;
    case "loops.webhook":
      return `loops-${idPart((data as JobData<"loops.webhook">).webhookId)}`;
    case "loops.engagement":
      return `loops-${idPart((data as JobData<"loops.engagement">).webhookId)}`;
    case "moosend.engagementPoll":
      return `moosend-engagement-poll-${idPart((data as JobData<"moosend.engagementPoll">).requestedAt ?? null)}`;
    case "engagement.flush":
      return `engagement-flush-${(data as JobData<"engagement.flush">).window}`;
    case "moosend.webhook": {
      const d = data as JobData<"moosend.webhook">;
      return `moosend-${idPart(d.subscriberId)}-${idPart(d.deliveryHash)}`;
    }
    case "ingest.batch":
      return `ingest-batch-${idPart((data as JobData<"ingest.batch">).batchId)}`;
    case "moosend.poll":
    {
      const d = data as JobData<"moosend.poll">;
      return `moosend-poll-${idPart(d.listId ?? "all")}-${idPart(d.requestedAt ?? null)}`;
    }
    case "maintenance.retention":
      return `maintenance-retention-${(data as JobData<"maintenance.retention">).retentionDays}`;
    default:
      throw new Error(`jobIdFor: unknown job ${String(name)}`);
  }
}
