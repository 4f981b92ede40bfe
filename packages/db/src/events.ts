import { Batcher } from "@funnelsync/batcher";
import { normalizeEmail } from "@funnelsync/config";
import { Prisma, type PrismaClient, type ReceivedEvent } from "./generated/prisma/client";
import { jsonText } from "./json";
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
  // Raw statements: Prisma compiles each ORM call's shape (its query compiler is WebAssembly), and a
  // batch of a new size is a new shape. These run once per batch under a burst.
  const records = new Batcher<string, RecordEventInput, boolean>(
    async (entries) => {
      const values = [...entries.values()].map(
        (e) => Prisma.sql`(${e.source}, ${e.dedupeKey}, ${e.kind}, ${e.leadId ?? null}::int, ${e.contactId ?? null}::int,
          ${e.email === undefined ? null : normalizeEmail(e.email)}, ${jsonText(e.payload)}::jsonb)`,
      );
      const created = await prisma.$queryRaw<Array<{ dedupeKey: string }>>`
        INSERT INTO received_events (source, dedupe_key, kind, lead_id, contact_id, email, payload)
        VALUES ${Prisma.join(values)}
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING dedupe_key AS "dedupeKey"`;
      const isNew = new Set(created.map((row) => row.dedupeKey));
      return new Map([...entries.keys()].map((key) => [key, isNew.has(key)]));
    },
    { maxBatch: EVENT_BATCH, isolateFailures: true },
  );
  const stamps = new Batcher<string, string, void>(
    async (entries) => {
      const keys = [...entries.keys()];
      await prisma.$executeRaw`UPDATE received_events SET processed_at = now() WHERE processed_at IS NULL AND dedupe_key IN (${Prisma.join(keys)})`;
      return new Map(keys.map((key) => [key, undefined]));
    },
    { maxBatch: EVENT_BATCH, isolateFailures: true },
  );

  return {
    record(e) {
      return records.add(e.dedupeKey, e);
    },

    markProcessed(dedupeKey) {
      return stamps.add(dedupeKey, dedupeKey);
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
