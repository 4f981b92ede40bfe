import { Batcher } from "@funnelsync/batcher";
import { normalizeEmail } from "@funnelsync/config";
import { Prisma, type PrismaClient } from "./generated/prisma/client";

export interface AddMembershipInput {
  email: string;
  listId: string;
  /** Moosend's subscriber id, when its answer named one */
  subscriberId?: string;
  kommoContactId?: number;
  /** When Moosend was seen to hold the address subscribed again after a re-subscribe (view.json). */
  confirmedAt?: Date;
}

/** Which Moosend lists an address is on, as far as we put it there or saw it leave. */
export interface MembershipRepository {
  /** Upsert on (email, listId); clears removedAt. subscribedAt is when the address was first added. */
  add(m: AddMembershipInput): Promise<void>;
  /** Stamps removedAt, once; an unknown membership is left alone. */
  markRemoved(email: string, listId: string): Promise<void>;
  /** List ids the address is on and was not removed from, sorted. */
  activeLists(email: string): Promise<string[]>;
  /** The last `confirmedAt` recorded for the address on the list; null if none. */
  confirmedAt(email: string, listId: string): Promise<Date | null>;
  /** Memberships recorded for a Kommo contact that was merged into another now name the survivor; addresses stay. */
  reassignContact(fromContactId: number, toContactId: number): Promise<void>;
}

/** Memberships per upsert: one Moosend `subscribe_many` answers up to 1,000 jobs at once. */
const ADD_BATCH = 1_000;
/** Addresses per look-up of active lists. */
const LOOKUP_BATCH = 1_000;

const membershipKey = (email: string, listId: string) => `${email}\u0000${listId}`;

export function createMembershipRepository(prisma: PrismaClient): MembershipRepository {
  // Omitted ids keep what was recorded before; a re-added address is active again.
  const adds = new Batcher<string, AddMembershipInput & { email: string }, void>(
    async (entries) => {
      const values = [...entries.values()].map(
        (m) => Prisma.sql`(${m.email}, ${m.listId}, ${m.subscriberId ?? null}, ${m.kommoContactId ?? null}::int, ${m.confirmedAt ?? null}::timestamptz)`,
      );
      await prisma.$executeRaw`
        INSERT INTO moosend_memberships (email, list_id, subscriber_id, kommo_contact_id, confirmed_at)
        VALUES ${Prisma.join(values)}
        ON CONFLICT (email, list_id) DO UPDATE SET
          removed_at = NULL,
          subscriber_id = COALESCE(EXCLUDED.subscriber_id, moosend_memberships.subscriber_id),
          kommo_contact_id = COALESCE(EXCLUDED.kommo_contact_id, moosend_memberships.kommo_contact_id),
          confirmed_at = COALESCE(EXCLUDED.confirmed_at, moosend_memberships.confirmed_at)`;
      return new Map([...entries.keys()].map((key) => [key, undefined]));
    },
    { maxBatch: ADD_BATCH, isolateFailures: true },
  );

  // Asked on every sync of a lead while a mapping has `removeOnExit` lists: one query per batch of jobs.
  const lookups = new Batcher<string, string, string[]>(
    async (entries) => {
      const rows = await prisma.$queryRaw<Array<{ email: string; listId: string }>>`
        SELECT email, list_id AS "listId" FROM moosend_memberships
        WHERE removed_at IS NULL AND email IN (${Prisma.join([...entries.keys()])})
        ORDER BY list_id`;
      const lists = new Map<string, string[]>();
      for (const row of rows) lists.set(row.email, [...(lists.get(row.email) ?? []), row.listId]);
      return lists;
    },
    { maxBatch: LOOKUP_BATCH, missing: () => [], isolateFailures: true },
  );

  // Asked before each Moosend subscribe of someone who opted back in.
  const confirmations = new Batcher<string, { email: string; listId: string }, Date | null>(
    async (entries) => {
      const pairs = [...entries.values()].map((m) => Prisma.sql`(${m.email}, ${m.listId})`);
      const rows = await prisma.$queryRaw<Array<{ email: string; listId: string; confirmedAt: Date }>>`
        SELECT email, list_id AS "listId", confirmed_at AS "confirmedAt" FROM moosend_memberships
        WHERE confirmed_at IS NOT NULL AND (email, list_id) IN (${Prisma.join(pairs)})`;
      return new Map(rows.map((row) => [membershipKey(row.email, row.listId), row.confirmedAt]));
    },
    { maxBatch: LOOKUP_BATCH, missing: () => null, isolateFailures: true },
  );

  return {
    add(m) {
      const email = normalizeEmail(m.email);
      return adds.add(membershipKey(email, m.listId), { ...m, email });
    },

    async markRemoved(email, listId) {
      await prisma.moosendMembership.updateMany({
        where: { email: normalizeEmail(email), listId, removedAt: null },
        data: { removedAt: new Date() },
      });
    },

    activeLists(email) {
      const normalized = normalizeEmail(email);
      return lookups.add(normalized, normalized);
    },

    confirmedAt(email, listId) {
      const normalized = normalizeEmail(email);
      return confirmations.add(membershipKey(normalized, listId), { email: normalized, listId });
    },

    async reassignContact(fromContactId, toContactId) {
      await prisma.moosendMembership.updateMany({ where: { kommoContactId: fromContactId }, data: { kommoContactId: toContactId } });
    },
  };
}
