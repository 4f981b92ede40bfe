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

/** One round trip per claim: the decision is made in Postgres (`claim_kommo_change`, see the migration). */
export function createChangeClaimRepository(prisma: PrismaClient): ChangeClaimRepository {
  return {
    async claim(r, toleranceSeconds) {
      const [row] = await prisma.$queryRaw<Array<{ out_claimed: boolean; out_paired_with: string | null }>>`
        SELECT * FROM claim_kommo_change(${r.entityType}, ${r.entityId}::int, ${r.change}, ${r.changedAt}::int, ${r.source}, ${r.jobId}, ${toleranceSeconds}::int)`;
      return row!.out_claimed ? { claimed: true } : { claimed: false, pairedWith: row!.out_paired_with! };
    },
  };
}
