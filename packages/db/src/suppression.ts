import { createHmac } from "node:crypto";
import { Batcher } from "@funnelsync/batcher";
import { normalizeEmail } from "@funnelsync/config";
import { Prisma, type PrismaClient } from "./generated/prisma/client";
import type { ConsentRepository, ConsentRow } from "./consent";
import type { EventRepository } from "./events";

/** Why an erased address is left alone, wherever a step or a consent report says so. */
export const ERASED_REASON = "erased on request";

/** The key an erasure leaves in an event's payload and an outcome's detail, with the time. */
export const ERASED_AT = "erasedAt";

/** When the row's personal data was erased, read from its payload or detail; undefined if it was not. */
export function erasedAtOf(json: unknown): Date | undefined {
  const at = typeof json === "object" && json !== null ? (json as Record<string, unknown>)[ERASED_AT] : undefined;
  return typeof at === "string" ? new Date(at) : undefined;
}

/**
 * The suppression cannot be read: no FUNNELSYNC_HASH_KEY while erased addresses are suppressed, or a
 * different key than the one they were hashed with. Retrying does not help; the operator must set the key.
 */
export class SuppressionKeyError extends Error {
  override name = "SuppressionKeyError";
  readonly retryable = false;
}

/** HMAC-SHA256 of the normalised address, hex: all a suppression keeps of the person. */
export function hashAddress(hashKey: string, email: string): string {
  return createHmac("sha256", hashKey).update(normalizeEmail(email)).digest("hex");
}

/** Names the key without revealing it, so a suppression made with another key is noticed. */
export function keyCheckOf(hashKey: string): string {
  return createHmac("sha256", hashKey).update("funnelsync suppression key check").digest("hex").slice(0, 16);
}

export interface SuppressionRepository {
  /** When the address was erased (it is never subscribed again), or null. */
  erasedAt(email: string): Promise<Date | null>;
  /** Throws SuppressionKeyError when suppressions exist that this key (or no key) cannot match. */
  checkKey(): Promise<void>;
}

const LOOKUP_BATCH = 1_000;

export function createSuppressionRepository(prisma: PrismaClient, hashKey: string | undefined): SuppressionRepository {
  async function checkKey(): Promise<void> {
    const rows = await prisma.$queryRaw<Array<{ keyCheck: string; count: bigint }>>`
      SELECT key_check AS "keyCheck", count(*) AS count FROM suppressions GROUP BY key_check`;
    const expected = hashKey === undefined ? undefined : keyCheckOf(hashKey);
    const unreadable = rows.filter((r) => r.keyCheck !== expected).reduce((sum, r) => sum + Number(r.count), 0);
    if (unreadable === 0) return;
    throw new SuppressionKeyError(
      hashKey === undefined
        ? `${unreadable} erased address(es) are suppressed, but FUNNELSYNC_HASH_KEY is not set: set the key that \`forget\` used`
        : `${unreadable} erased address(es) were hashed with another FUNNELSYNC_HASH_KEY: set the key that \`forget\` used`,
    );
  }

  const lookups = new Batcher<string, string, Date | null>(
    async (entries) => {
      // Without a key nothing can match; the worker refuses to start that way once someone was erased (checkKey).
      if (hashKey === undefined) return new Map();
      const hashes = new Map([...entries.keys()].map((email) => [hashAddress(hashKey, email), email]));
      const rows = await prisma.$queryRaw<Array<{ hash: string; erasedAt: Date }>>`
        SELECT hash, erased_at AS "erasedAt" FROM suppressions WHERE hash IN (${Prisma.join([...hashes.keys()])})`;
      return new Map(rows.map((row) => [hashes.get(row.hash)!, row.erasedAt]));
    },
    { maxBatch: LOOKUP_BATCH, missing: () => null, isolateFailures: true },
  );

  return {
    erasedAt(email) {
      const normalized = normalizeEmail(email);
      return lookups.add(normalized, normalized);
    },
    checkKey,
  };
}

/**
 * Consent as the worker must see it: an erased address reads as `erased` (so every consent check
 * before a subscribe stops it), and nothing new is written about it.
 */
export function withSuppression(consent: ConsentRepository, suppressions: SuppressionRepository): ConsentRepository {
  const erasedRow = (email: string, at: Date): ConsentRow => ({
    email: normalizeEmail(email),
    state: "erased",
    source: "operator",
    reason: ERASED_REASON,
    eventRef: null,
    changedAt: at,
  });
  return {
    ...consent,
    async get(email) {
      const [row, erasedAt] = await Promise.all([consent.get(email), suppressions.erasedAt(email)]);
      return erasedAt ? erasedRow(email, erasedAt) : row;
    },
    async isWithdrawn(email) {
      const [withdrawn, erasedAt] = await Promise.all([consent.isWithdrawn(email), suppressions.erasedAt(email)]);
      return withdrawn || erasedAt !== null;
    },
    async set(change) {
      const erasedAt = await suppressions.erasedAt(change.email);
      return erasedAt ? erasedRow(change.email, erasedAt) : consent.set(change);
    },
    async history(email) {
      return (await suppressions.erasedAt(email)) ? [] : consent.history(email);
    },
    async moveAddress(oldEmail, newEmail) {
      if (!(await suppressions.erasedAt(newEmail))) await consent.moveAddress(oldEmail, newEmail);
    },
  };
}

/** A vendor event about an erased address is recorded without the address or its payload. */
export function eventsWithSuppression(events: EventRepository, suppressions: SuppressionRepository): EventRepository {
  return {
    ...events,
    async record(e) {
      const erasedAt = e.email === undefined ? null : await suppressions.erasedAt(e.email);
      return events.record(erasedAt ? { ...e, email: undefined, payload: { [ERASED_AT]: erasedAt.toISOString() } } : e);
    },
  };
}
