import { Batcher } from "@funnelsync/batcher";
import { normalizeEmail } from "@funnelsync/config";
import { Prisma, type Consent, type ConsentEvent, type PrismaClient } from "./generated/prisma/client";
import type { ConsentSource, ConsentState, Source } from "./types";

export interface ConsentRow {
  email: string;
  state: ConsentState;
  source: ConsentSource;
  reason: string | null;
  /** the job id or webhook id that set it */
  eventRef: string | null;
  changedAt: Date;
}

export interface ConsentEventRow {
  id: string;
  email: string;
  state: ConsentState;
  source: Source;
  reason: string | null;
  eventRef: string | null;
  at: Date;
}

export interface SetConsentInput {
  email: string;
  state: ConsentState;
  source: Source;
  reason?: string;
  eventRef?: string;
  /** when the vendor says it happened; now by default */
  at?: Date;
}

/** Emails are lower-cased and trimmed everywhere in this package. */
export interface ConsentRepository {
  get(email: string): Promise<ConsentRow | null>;
  /** true when the address is unsubscribed, bounced or complained */
  isWithdrawn(email: string): Promise<boolean>;
  /** Sets state + appends history, in one transaction. */
  set(c: SetConsentInput): Promise<ConsentRow>;
  /** The address's changes, oldest first. */
  history(email: string): Promise<ConsentEventRow[]>;
  /**
   * Moves consent from one address to another (e-mail change in the CRM): the person keeps their
   * state, and the change is appended to the new address's history. Two things stay put, because
   * an address that opted out is never subscribed again without a new opt-in: a withdrawal already
   * recorded for the new address, and the old address's own row.
   */
  moveAddress(oldEmail: string, newEmail: string): Promise<void>;
}

/** Addresses per look-up: every forward sync asks, and under a burst hundreds ask at once. */
const LOOKUP_BATCH = 1_000;

export function createConsentRepository(prisma: PrismaClient): ConsentRepository {
  const lookups = new Batcher<string, string, ConsentRow | null>(
    async (entries) => {
      // Raw, like the event writes: a batch of a new size would be a new shape for Prisma to compile.
      const rows = await prisma.$queryRaw<Consent[]>`
        SELECT email, state, source, reason, event_ref AS "eventRef", changed_at AS "changedAt"
        FROM consents WHERE email IN (${Prisma.join([...entries.keys()])})`;
      return new Map(rows.map((row) => [row.email, toRow(row)]));
    },
    { maxBatch: LOOKUP_BATCH, missing: () => null, isolateFailures: true },
  );

  function get(email: string): Promise<ConsentRow | null> {
    const normalized = normalizeEmail(email);
    return lookups.add(normalized, normalized);
  }

  return {
    get,

    async isWithdrawn(email) {
      const row = await get(email);
      return row !== null && row.state !== "subscribed";
    },

    async set(c) {
      const email = normalizeEmail(c.email);
      const at = c.at ?? new Date();
      const change = { state: c.state, source: c.source, reason: c.reason ?? null, eventRef: c.eventRef ?? null };
      const [row] = await prisma.$transaction([
        prisma.consent.upsert({
          where: { email },
          create: { email, ...change, changedAt: at },
          update: { ...change, changedAt: at },
        }),
        prisma.consentEvent.create({ data: { email, ...change, at } }),
      ]);
      return toRow(row);
    },

    async history(email) {
      const rows = await prisma.consentEvent.findMany({
        where: { email: normalizeEmail(email) },
        orderBy: [{ at: "asc" }, { id: "asc" }],
      });
      return rows.map(toEventRow);
    },

    async moveAddress(oldEmail, newEmail) {
      const from = normalizeEmail(oldEmail);
      const to = normalizeEmail(newEmail);
      if (from === to) return;
      await prisma.$transaction(async (tx) => {
        const moving = await tx.consent.findUnique({ where: { email: from } });
        if (!moving) return;
        const present = await tx.consent.findUnique({ where: { email: to } });
        if (present && present.state !== "subscribed") return;
        const change = {
          state: moving.state,
          source: moving.source,
          reason: moving.reason ? `${moving.reason} (moved from ${from})` : `moved from ${from}`,
          eventRef: moving.eventRef,
        };
        const at = new Date();
        await tx.consent.upsert({ where: { email: to }, create: { email: to, ...change, changedAt: at }, update: { ...change, changedAt: at } });
        await tx.consentEvent.create({ data: { email: to, ...change, at } });
      });
    },
  };
}

function toRow(r: Consent): ConsentRow {
  return { ...r, state: r.state as ConsentState, source: r.source as Source };
}

function toEventRow(r: ConsentEvent): ConsentEventRow {
  return { ...r, id: String(r.id), state: r.state as ConsentState, source: r.source as Source };
}
