import { Batcher } from "@funnelsync/batcher";
import { normalizeEmail } from "@funnelsync/config";
import { Prisma, type PrismaClient, type SyncOutcome } from "./generated/prisma/client";
import { jsonText } from "./json";
import type { OutcomeStatus, OutcomeVendor } from "./types";

/** What one attempt of one job step came to. */
export interface OutcomeInput {
  jobId: string;
  jobName: string;
  /** e.g. `moosend.subscribe`, `loops.event`, `kommo.note`, or `job` for a whole-job skip */
  step: string;
  vendor: OutcomeVendor;
  action: string;
  status: OutcomeStatus;
  reason?: string;
  attempts: number;
  /** the HTTP status the vendor answered, if it answered */
  vendorStatus?: number;
  durationMs?: number;
  leadId?: number;
  contactId?: number;
  email?: string;
  idempotencyKey?: string;
  detail?: unknown;
}

export interface OutcomeRow {
  id: string;
  jobId: string;
  jobName: string;
  step: string;
  vendor: OutcomeVendor;
  action: string;
  status: OutcomeStatus;
  reason: string | null;
  attempts: number;
  vendorStatus: number | null;
  durationMs: number | null;
  leadId: number | null;
  contactId: number | null;
  email: string | null;
  idempotencyKey: string | null;
  detail: unknown;
  createdAt: Date;
  updatedAt: Date;
}

export interface OutcomeFilter {
  status?: OutcomeStatus;
  vendor?: string;
}

export interface OutcomeRepository {
  /** Returns the row for (jobId, step) or null. */
  get(jobId: string, step: string): Promise<OutcomeRow | null>;
  /**
   * Upsert on (jobId, step); attempts given by caller. The result fields (status, reason,
   * vendorStatus, durationMs, detail…) describe the latest attempt, so an omitted one is cleared;
   * an omitted leadId, contactId, email or idempotencyKey keeps what an earlier attempt recorded.
   */
  save(o: OutcomeInput): Promise<OutcomeRow>;
  /** Ordered by createdAt, id. */
  forLead(leadId: number): Promise<OutcomeRow[]>;
  forJob(jobId: string): Promise<OutcomeRow[]>;
  forEmail(email: string): Promise<OutcomeRow[]>;
  /** Rows updated at or after `at`, oldest update first. */
  since(at: Date, filter?: OutcomeFilter): Promise<OutcomeRow[]>;
}

const CHRONOLOGICAL = [{ createdAt: "asc" }, { id: "asc" }] satisfies Prisma.SyncOutcomeOrderByWithRelationInput[];

/** Rows per upsert statement: well under Postgres' 65,535 parameters at 15 per row. */
const SAVE_BATCH = 1_000;

/** The columns of sync_outcomes under the names OutcomeRow uses, for RETURNING. */
const RETURNED = Prisma.raw(
  `id, job_id AS "jobId", job_name AS "jobName", step, vendor, action, status, reason, attempts, vendor_status AS "vendorStatus",
   duration_ms AS "durationMs", lead_id AS "leadId", contact_id AS "contactId", email, idempotency_key AS "idempotencyKey", detail,
   created_at AS "createdAt", updated_at AS "updatedAt"`,
);

/**
 * One statement for every save waiting: under a burst a thousand jobs finish within a few
 * milliseconds of each other (one Moosend `subscribe_many` answers them all), and one multi-row
 * upsert costs the worker far less than a thousand. A lone save goes out at once.
 */
async function upsertOutcomes(prisma: PrismaClient, inputs: OutcomeInput[]): Promise<SyncOutcome[]> {
  const values = inputs.map(
    (o) => Prisma.sql`(${o.jobId}, ${o.jobName}, ${o.step}, ${o.vendor}, ${o.action}, ${o.status}, ${o.reason ?? null}, ${o.attempts}::int,
      ${o.vendorStatus ?? null}::int, ${o.durationMs ?? null}::int, ${o.leadId ?? null}::int, ${o.contactId ?? null}::int,
      ${o.email === undefined ? null : normalizeEmail(o.email)}, ${o.idempotencyKey ?? null},
      ${o.detail == null ? null : jsonText(o.detail)}::jsonb, now())`,
  );
  // Result fields describe the latest attempt; identity fields an attempt omits keep earlier values.
  return prisma.$queryRaw<SyncOutcome[]>`
    INSERT INTO sync_outcomes (job_id, job_name, step, vendor, action, status, reason, attempts, vendor_status, duration_ms,
      lead_id, contact_id, email, idempotency_key, detail, updated_at)
    VALUES ${Prisma.join(values)}
    ON CONFLICT (job_id, step) DO UPDATE SET
      job_name = EXCLUDED.job_name, vendor = EXCLUDED.vendor, action = EXCLUDED.action, status = EXCLUDED.status,
      reason = EXCLUDED.reason, attempts = EXCLUDED.attempts, vendor_status = EXCLUDED.vendor_status,
      duration_ms = EXCLUDED.duration_ms, detail = EXCLUDED.detail, updated_at = now(),
      lead_id = COALESCE(EXCLUDED.lead_id, sync_outcomes.lead_id),
      contact_id = COALESCE(EXCLUDED.contact_id, sync_outcomes.contact_id),
      email = COALESCE(EXCLUDED.email, sync_outcomes.email),
      idempotency_key = COALESCE(EXCLUDED.idempotency_key, sync_outcomes.idempotency_key)
    RETURNING ${RETURNED}`;
}

/** One row per (job, step): the key a save is batched and answered under. */
const rowKey = (row: { jobId: string; step: string }) => `${row.jobId}\u0000${row.step}`;

export function createOutcomeRepository(prisma: PrismaClient): OutcomeRepository {
  const saves = new Batcher<string, OutcomeInput, SyncOutcome>(
    async (entries) => {
      const rows = await upsertOutcomes(prisma, [...entries.values()]);
      return new Map(rows.map((row) => [rowKey(row), row]));
    },
    { maxBatch: SAVE_BATCH, isolateFailures: true },
  );

  return {
    async get(jobId, step) {
      const row = await prisma.syncOutcome.findUnique({ where: { jobId_step: { jobId, step } } });
      return row && toRow(row);
    },

    async save(o) {
      return toRow(await saves.add(rowKey(o), o));
    },

    async forLead(leadId) {
      return (await prisma.syncOutcome.findMany({ where: { leadId }, orderBy: CHRONOLOGICAL })).map(toRow);
    },

    async forJob(jobId) {
      return (await prisma.syncOutcome.findMany({ where: { jobId }, orderBy: CHRONOLOGICAL })).map(toRow);
    },

    async forEmail(email) {
      const rows = await prisma.syncOutcome.findMany({ where: { email: normalizeEmail(email) }, orderBy: CHRONOLOGICAL });
      return rows.map(toRow);
    },

    async since(at, filter = {}) {
      const rows = await prisma.syncOutcome.findMany({
        where: { updatedAt: { gte: at }, status: filter.status, vendor: filter.vendor },
        orderBy: [{ updatedAt: "asc" }, { id: "asc" }],
      });
      return rows.map(toRow);
    },
  };
}

function toRow(r: SyncOutcome): OutcomeRow {
  return { ...r, id: String(r.id), vendor: r.vendor as OutcomeVendor, status: r.status as OutcomeStatus };
}
