import type { PrismaClient } from "./generated/prisma/client";
import { normalizeEmail } from "./email";

export interface AddMembershipInput {
  email: string;
  listId: string;
  /** Moosend's subscriber id, when its answer named one */
  subscriberId?: string;
  kommoContactId?: number;
}

/** Which Moosend lists an address is on, as far as we put it there or saw it leave. */
export interface MembershipRepository {
  /** Upsert on (email, listId); clears removedAt. subscribedAt is when the address was first added. */
  add(m: AddMembershipInput): Promise<void>;
  /** Stamps removedAt, once; an unknown membership is left alone. */
  markRemoved(email: string, listId: string): Promise<void>;
  /** List ids the address is on and was not removed from, sorted. */
  activeLists(email: string): Promise<string[]>;
}

export function createMembershipRepository(prisma: PrismaClient): MembershipRepository {
  return {
    async add(m) {
      const email = normalizeEmail(m.email);
      await prisma.moosendMembership.upsert({
        where: { email_listId: { email, listId: m.listId } },
        create: { email, listId: m.listId, subscriberId: m.subscriberId, kommoContactId: m.kommoContactId },
        update: { removedAt: null, subscriberId: m.subscriberId, kommoContactId: m.kommoContactId },
      });
    },

    async markRemoved(email, listId) {
      await prisma.moosendMembership.updateMany({
        where: { email: normalizeEmail(email), listId, removedAt: null },
        data: { removedAt: new Date() },
      });
    },

    async activeLists(email) {
      const rows = await prisma.moosendMembership.findMany({
        where: { email: normalizeEmail(email), removedAt: null },
        select: { listId: true },
        orderBy: { listId: "asc" },
      });
      return rows.map((r) => r.listId);
    },
  };
}
