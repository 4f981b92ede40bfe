import { Prisma, type PrismaClient, type SyncOutcome } from "./generated/prisma/client";
import { normalizeEmail } from "./email";
import { toJson } from "./json";
import { OUTCOME_STATUSES, type OutcomeStatus, type OutcomeVendor } from "./types";

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
  /** Row counts per status; every status is present, with 0 when it has no rows. */
  countByStatus(): Promise<Record<string, number>>;
}

const CHRONOLOGICAL = [{ createdAt: "asc" }, { id: "asc" }] satisfies Prisma.SyncOutcomeOrderByWithRelationInput[];

export function createOutcomeRepository(prisma: PrismaClient): OutcomeRepository {
  return {
    async get(jobId, step) {
      const row = await prisma.syncOutcome.findUnique({ where: { jobId_step: { jobId, step } } });
      return row && toRow(row);
    },

    async save(o) {
      const latestAttempt = {
        jobName: o.jobName,
        vendor: o.vendor,
        action: o.action,
        status: o.status,
        reason: o.reason ?? null,
        attempts: o.attempts,
        vendorStatus: o.vendorStatus ?? null,
        durationMs: o.durationMs ?? null,
        detail: o.detail == null ? Prisma.DbNull : toJson(o.detail),
      };
      const identity = {
        leadId: o.leadId,
        contactId: o.contactId,
        email: o.email === undefined ? undefined : normalizeEmail(o.email),
        idempotencyKey: o.idempotencyKey,
      };
      const row = await prisma.syncOutcome.upsert({
        where: { jobId_step: { jobId: o.jobId, step: o.step } },
        create: { jobId: o.jobId, step: o.step, ...latestAttempt, ...identity },
        update: { ...latestAttempt, ...identity },
      });
      return toRow(row);
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

    async countByStatus() {
      const groups = await prisma.syncOutcome.groupBy({ by: ["status"], _count: { _all: true } });
      const counts: Record<string, number> = Object.fromEntries(OUTCOME_STATUSES.map((s) => [s, 0]));
      for (const g of groups) counts[g.status] = g._count._all;
      return counts;
    },
  };
}

function toRow(r: SyncOutcome): OutcomeRow {
  return { ...r, id: String(r.id), vendor: r.vendor as OutcomeVendor, status: r.status as OutcomeStatus };
}
