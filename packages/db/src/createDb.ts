import { PrismaPg } from "@prisma/adapter-pg";
import { createChangeClaimRepository, type ChangeClaimRepository } from "./changeClaims";
import { createConsentRepository, type ConsentRepository } from "./consent";
import { createErasureRepository, type ErasureRepository } from "./erasure";
import { createEngagementRepository, type EngagementRepository } from "./engagements";
import { createEventRepository, type EventRepository } from "./events";
import { PrismaClient } from "./generated/prisma/client";
import { createKommoRecordRepository, type KommoRecordRepository } from "./kommoRecords";
import { createContactLinkRepository, type ContactLinkRepository } from "./links";
import { createMembershipRepository, type MembershipRepository } from "./memberships";
import { createOutcomeRepository, type OutcomeRepository } from "./outcomes";
import { createRetentionRepository, type RetentionRepository } from "./retention";
import { createSuppressionRepository, eventsWithSuppression, withSuppression, type SuppressionRepository } from "./suppression";
import { createWatermarkRepository, type WatermarkRepository } from "./watermarks";

export interface Db {
  events: EventRepository;
  outcomes: OutcomeRepository;
  consent: ConsentRepository;
  links: ContactLinkRepository;
  memberships: MembershipRepository;
  watermarks: WatermarkRepository;
  suppressions: SuppressionRepository;
  erasure: ErasureRepository;
  retention: RetentionRepository;
  /** Which report of a Kommo change (webhook or events feed) has its effects. */
  changeClaims: ChangeClaimRepository;
  engagements: EngagementRepository;
  /** Contacts' leads and leads' stages as the worker last read them from Kommo. */
  kommoRecords: KommoRecordRepository;
  /** cheap `SELECT 1` for readiness */
  ping(): Promise<void>;
  /** Closes the connection pool; later calls return the same promise. */
  close(): Promise<void>;
}

export interface DbOptions {
  /** FUNNELSYNC_HASH_KEY: erased addresses are recognised (and erased) by their keyed hash. */
  hashKey?: string;
}

/** Connects lazily: the first query opens the pool. */
export function createDb(databaseUrl: string, options: DbOptions = {}): Db {
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
  const suppressions = createSuppressionRepository(prisma, options.hashKey);
  let closed: Promise<void> | undefined;
  return {
    events: eventsWithSuppression(createEventRepository(prisma), suppressions),
    outcomes: createOutcomeRepository(prisma),
    consent: withSuppression(createConsentRepository(prisma), suppressions),
    links: createContactLinkRepository(prisma),
    memberships: createMembershipRepository(prisma),
    watermarks: createWatermarkRepository(prisma),
    suppressions,
    erasure: createErasureRepository(prisma, options.hashKey),
    retention: createRetentionRepository(prisma),
    changeClaims: createChangeClaimRepository(prisma),
    engagements: createEngagementRepository(prisma),
    kommoRecords: createKommoRecordRepository(prisma),
    async ping() {
      await prisma.$queryRaw`SELECT 1`;
    },
    close() {
      closed ??= prisma.$disconnect();
      return closed;
    },
  };
}
