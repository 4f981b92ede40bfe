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

export function createEventRepository(prisma: PrismaClient): EventRepository {
  return {
    async record(e) {
      const { count } = await prisma.receivedEvent.createMany({
        data: {
          source: e.source,
          dedupeKey: e.dedupeKey,
          kind: e.kind,
          leadId: e.leadId,
          contactId: e.contactId,
          email: e.email === undefined ? undefined : normalizeEmail(e.email),
          payload: toJson(e.payload),
        },
        skipDuplicates: true, // ON CONFLICT DO NOTHING: a concurrent duplicate is not an error either
      });
      return count === 1;
    },

    async markProcessed(dedupeKey) {
      await prisma.receivedEvent.updateMany({ where: { dedupeKey, processedAt: null }, data: { processedAt: new Date() } });
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
