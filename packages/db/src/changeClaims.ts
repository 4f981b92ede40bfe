import type { PrismaClient } from "./generated/prisma/client";

export type ChangeSource = "webhook" | "events";

export interface ChangeReport {
  entityType: "lead" | "contact";
  entityId: number;
  /** What changed: `status:<pipeline>:<status>` for a move, `fields` for an edit. */
  change: string;
  /** Kommo's time of the change (unix s). */
  changedAt: number;
  source: ChangeSource;
  jobId: string;
}

export type ClaimResult = { claimed: true } | { claimed: false; pairedWith: string };

export interface ChangeClaimRepository {
  /**
   * Claims a change for this job, unless the other source already reported the same change: a claim
   * from the other source, for the same change, at most `toleranceSeconds` away and not yet paired.
   * For a move, a move of the same entity into another stage between the two times means they are
   * two changes. The nearest such claim is paired with this one. A job's retry gets its first answer.
   */
  claim(report: ChangeReport, toleranceSeconds: number): Promise<ClaimResult>;
}

interface ClaimRow {
  jobId: string;
  pairedWith: string | null;
  duplicate: boolean;
}

export function createChangeClaimRepository(prisma: PrismaClient): ChangeClaimRepository {
  return {
    claim(report, toleranceSeconds) {
      return prisma.$transaction(async (tx) => {
        // One entity's reports are decided one at a time, in every worker process.
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`kommo-claim:${report.entityType}:${report.entityId}`}))`;
        const [mine] = await tx.$queryRaw<ClaimRow[]>`
          SELECT job_id AS "jobId", paired_with AS "pairedWith", duplicate FROM kommo_change_claims WHERE job_id = ${report.jobId}`;
        if (mine) return mine.duplicate && mine.pairedWith ? { claimed: false, pairedWith: mine.pairedWith } : { claimed: true };
        const isMove = report.change.startsWith("status:");
        const [partner] = await tx.$queryRaw<ClaimRow[]>`
          SELECT c.job_id AS "jobId", c.paired_with AS "pairedWith", c.duplicate FROM kommo_change_claims c
          WHERE c.entity_type = ${report.entityType} AND c.entity_id = ${report.entityId} AND c.change = ${report.change}
            AND c.source <> ${report.source} AND c.paired_with IS NULL
            AND abs(c.changed_at - ${report.changedAt}::int) <= ${toleranceSeconds}::int
            AND NOT (${isMove} AND EXISTS (
              SELECT 1 FROM kommo_change_claims m
              WHERE m.entity_type = c.entity_type AND m.entity_id = c.entity_id AND m.change LIKE 'status:%' AND m.change <> c.change
                AND m.changed_at > least(c.changed_at, ${report.changedAt}::int) AND m.changed_at < greatest(c.changed_at, ${report.changedAt}::int)))
          ORDER BY abs(c.changed_at - ${report.changedAt}::int), c.id
          LIMIT 1`;
        await tx.$executeRaw`
          INSERT INTO kommo_change_claims (entity_type, entity_id, change, changed_at, source, job_id, paired_with, duplicate)
          VALUES (${report.entityType}, ${report.entityId}, ${report.change}, ${report.changedAt}::int, ${report.source}, ${report.jobId},
            ${partner?.jobId ?? null}, ${Boolean(partner)})`;
        if (!partner) return { claimed: true } as const;
        await tx.$executeRaw`UPDATE kommo_change_claims SET paired_with = ${report.jobId} WHERE job_id = ${partner.jobId}`;
        return { claimed: false, pairedWith: partner.jobId } as const;
      });
    },
  };
}
