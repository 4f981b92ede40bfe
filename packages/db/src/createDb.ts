import { PrismaPg } from "@prisma/adapter-pg";
import { createChangeClaimRepository, type ChangeClaimRepository } from "./changeClaims";
import { createConsentRepository, type ConsentRepository } from "./consent";
import { createEventRepository, type EventRepository } from "./events";
import { PrismaClient } from "./generated/prisma/client";
import { createContactLinkRepository, type ContactLinkRepository } from "./links";
import { createMembershipRepository, type MembershipRepository } from "./memberships";
import { createOutcomeRepository, type OutcomeRepository } from "./outcomes";
import { createWatermarkRepository, type WatermarkRepository } from "./watermarks";

export interface Db {
  events: EventRepository;
  outcomes: OutcomeRepository;
  consent: ConsentRepository;
  links: ContactLinkRepository;
  memberships: MembershipRepository;
  watermarks: WatermarkRepository;
  /** Which report of a Kommo change (webhook or events feed) has its effects. */
  changeClaims: ChangeClaimRepository;
  /** cheap `SELECT 1` for readiness */
  ping(): Promise<void>;
  /** Closes the connection pool; later calls return the same promise. */
  close(): Promise<void>;
}

/** Connects lazily: the first query opens the pool. */
export function createDb(databaseUrl: string): Db {
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
  let closed: Promise<void> | undefined;
  return {
    events: createEventRepository(prisma),
    outcomes: createOutcomeRepository(prisma),
    consent: createConsentRepository(prisma),
    links: createContactLinkRepository(prisma),
    memberships: createMembershipRepository(prisma),
    watermarks: createWatermarkRepository(prisma),
    changeClaims: createChangeClaimRepository(prisma),
    async ping() {
      await prisma.$queryRaw`SELECT 1`;
    },
    close() {
      closed ??= prisma.$disconnect();
      return closed;
    },
  };
}
