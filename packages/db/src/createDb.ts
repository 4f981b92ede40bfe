import { PrismaPg } from "@prisma/adapter-pg";
import { createConsentRepository, type ConsentRepository } from "./consent";
import { createEngagementRepository, type EngagementRepository } from "./engagements";
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
  engagements: EngagementRepository;
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
    engagements: createEngagementRepository(prisma),
    async ping() {
      await prisma.$queryRaw`SELECT 1`;
    },
    close() {
      closed ??= prisma.$disconnect();
      return closed;
    },
  };
}
