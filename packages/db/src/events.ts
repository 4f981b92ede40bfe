import { Batcher } from "@funnelsync/batcher";
import type { PrismaClient, ReceivedEvent } from "./generated/prisma/client";
import { normalizeEmail } from "./email";
import { toJson } from "./json";
import type { Source } from "./types";

export interface ReceivedEventRow {
  id: string;
  source: Source;
  /** the job id derived from the vendor's event identity */
  dedupeKey: string;
  kind: string;
  leadId: number | null;
  contactId: number | null;
  email: string | null;
  payload: unknown;
  receivedAt: Date;
  processedAt: Date | null;
}

export interface RecordEventInput {
  source: Source;
  dedupeKey: string;
  /** e.g. `leads.status`, `email.hardBounced` */
  kind: string;
  leadId?: number;
  contactId?: number;
  email?: string;
  /** stored as JSON; must not contain secrets */
  payload: unknown;
}

export interface EventRepository {
  /** Records a received vendor event once; returns false if dedupeKey was already recorded. */
  record(e: RecordEventInput): Promise<boolean>;
  /** Stamps the event as processed; the first stamp stays. */
  markProcessed(dedupeKey: string): Promise<void>;
  /** The lead's events, oldest first. */
  forLead(leadId: number): Promise<ReceivedEventRow[]>;
}

/** Events per statement; under a burst every active job records its event at about the same time. */
const EVENT_BATCH = 1_000;

export function createEventRepository(prisma: PrismaClient): EventRepository {
  // Concurrent calls share one statement each (see Batcher); a lone call goes out at once.
  const records = new Batcher<string, RecordEventInput, boolean>(
    async (entries) => {
      const created = await prisma.receivedEvent.createManyAndReturn({
        data: [...entries.values()].map((e) => ({
          source: e.source,
          dedupeKey: e.dedupeKey,
          kind: e.kind,
          leadId: e.leadId,
          contactId: e.contactId,
          email: e.email === undefined ? undefined : normalizeEmail(e.email),
          payload: toJson(e.payload),
        })),
        select: { dedupeKey: true },
        skipDuplicates: true, // ON CONFLICT DO NOTHING: a concurrent duplicate is not an error either
      });
      const isNew = new Set(created.map((row) => row.dedupeKey));
      return new Map([...entries.keys()].map((key) => [key, isNew.has(key)]));
    },
    { maxBatch: EVENT_BATCH },
  );
  const stamps = new Batcher<string, Date, void>(
    async (entries) => {
      const keys = [...entries.keys()];
      await prisma.receivedEvent.updateMany({ where: { dedupeKey: { in: keys }, processedAt: null }, data: { processedAt: new Date() } });
      return new Map(keys.map((key) => [key, undefined]));
    },
    { maxBatch: EVENT_BATCH },
  );

  return {
    record(e) {
      return records.add(e.dedupeKey, e);
    },

    markProcessed(dedupeKey) {
      return stamps.add(dedupeKey, new Date());
    },

    async forLead(leadId) {
      const rows = await prisma.receivedEvent.findMany({ where: { leadId }, orderBy: [{ receivedAt: "asc" }, { id: "asc" }] });
      return rows.map(toRow);
    },
  };
}

function toRow(r: ReceivedEvent): ReceivedEventRow {
  return { ...r, id: String(r.id), source: r.source as Source };
}
