import { normalizeEmail } from "@funnelsync/config";
import { Prisma, type PrismaClient } from "./generated/prisma/client";
import { ERASED_AT, hashAddress, keyCheckOf, SuppressionKeyError } from "./suppression";

/** What an erasure changed (or, in a dry run, would change), without the address. */
export interface ErasureResult {
  /** the suppression's keyed hash */
  hash: string;
  /** false when the address had been erased before */
  newlySuppressed: boolean;
  /** rows changed per table (a row changed by two steps counts twice) */
  changes: Record<string, number>;
  /** Moosend lists we had put the address on */
  moosendListIds: string[];
  /** the Loops userIds (Kommo contact ids) its Loops contact was linked by */
  loopsUserIds: string[];
}

export interface ErasureRepository {
  /**
   * Removes the address and what identifies its person from every table, and suppresses its keyed
   * hash, in one transaction. `dryRun` does the same and rolls it back.
   */
  forget(email: string, options?: { dryRun?: boolean }): Promise<ErasureResult>;
}

/** What is left where an address stood in free text (reasons, notes, JSON details). */
const ERASED_TEXT = "[erased]";

/** Tables whose text the sweep leaves alone: the suppression itself and Prisma's bookkeeping. */
const NOT_SWEPT = ["suppressions", "_prisma_migrations"];

/** An erasure scans whole tables for the address in free text; Prisma's 5 s default is too short for that. */
const ERASURE_TIMEOUT_MS = 10 * 60_000;

class DryRunRollback extends Error {}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export function createErasureRepository(prisma: PrismaClient, hashKey: string | undefined): ErasureRepository {
  return {
    async forget(email, options = {}) {
      if (hashKey === undefined) throw new SuppressionKeyError("FUNNELSYNC_HASH_KEY is not set: an erasure keeps a keyed hash of the address");
      const address = normalizeEmail(email);
      const hash = hashAddress(hashKey, address);
      const erasedAt = new Date();
      const pattern = escapeRegex(address);
      const changes: Record<string, number> = {};
      const count = (table: string, rows: number) => (changes[table] = (changes[table] ?? 0) + rows);
      let result: ErasureResult | undefined;
      try {
        await prisma.$transaction(
          async (tx) => {
            const contacts = await tx.$queryRaw<Array<{ id: number }>>`
              SELECT kommo_contact_id AS id FROM contact_links WHERE email = ${address}
              UNION SELECT kommo_contact_id FROM moosend_memberships WHERE email = ${address} AND kommo_contact_id IS NOT NULL
              UNION SELECT contact_id FROM sync_outcomes WHERE email = ${address} AND contact_id IS NOT NULL
              UNION SELECT contact_id FROM received_events WHERE email = ${address} AND contact_id IS NOT NULL`;
            const contactIds = contacts.map((c) => c.id);
            // An event's payload is the vendor's view of the person (names, addresses, fields): all of it goes.
            count(
              "received_events",
              await tx.$executeRaw`
                UPDATE received_events SET email = NULL, payload = jsonb_build_object(${ERASED_AT}::text, ${erasedAt.toISOString()}::text)
                WHERE email = ${address} OR contact_id = ANY(${contactIds}::int[]) OR payload::text ~* ${pattern}`,
            );
            count(
              "sync_outcomes",
              await tx.$executeRaw`
                UPDATE sync_outcomes SET email = NULL, detail = COALESCE(detail, '{}'::jsonb) || jsonb_build_object(${ERASED_AT}::text, ${erasedAt.toISOString()}::text)
                WHERE email = ${address}`,
            );
            // What we read of the person's Kommo contacts and their leads, and our field writes to them.
            const recorded = await tx.$queryRaw<Array<{ leadIds: number[] }>>`
              DELETE FROM kommo_contact_leads WHERE contact_id = ANY(${contactIds}::int[]) RETURNING lead_ids AS "leadIds"`;
            count("kommo_contact_leads", recorded.length);
            const leadIds = [...new Set(recorded.flatMap((r) => r.leadIds))];
            count("kommo_lead_states", await tx.$executeRaw`DELETE FROM kommo_lead_states WHERE lead_id = ANY(${leadIds}::int[])`);
            count(
              "engagement_field_writes",
              await tx.$executeRaw`
                DELETE FROM engagement_field_writes
                WHERE (entity_type = 'contacts' AND entity_id = ANY(${contactIds}::int[])) OR (entity_type = 'leads' AND entity_id = ANY(${leadIds}::int[]))`,
            );
            const links = await tx.$queryRaw<Array<{ userId: string | null }>>`
              DELETE FROM contact_links WHERE email = ${address} RETURNING loops_user_id AS "userId"`;
            count("contact_links", links.length);
            const memberships = await tx.$queryRaw<Array<{ listId: string }>>`
              DELETE FROM moosend_memberships WHERE email = ${address} RETURNING list_id AS "listId"`;
            count("moosend_memberships", memberships.length);
            count("consents", await tx.$executeRaw`DELETE FROM consents WHERE email = ${address}`);
            count("consent_events", await tx.$executeRaw`DELETE FROM consent_events WHERE email = ${address}`);

            // Wherever else the address was written as text (a reason, a consent history's "moved from",
            // a JSON detail), in any table, present or future: it is replaced in place.
            const columns = await tx.$queryRaw<Array<{ table: string; column: string; type: string }>>`
              SELECT table_name AS "table", column_name AS "column", data_type AS type FROM information_schema.columns
              WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'json', 'jsonb')
                AND table_name NOT IN (${Prisma.join(NOT_SWEPT)})
              ORDER BY table_name, ordinal_position`;
            for (const table of new Set(columns.map((c) => c.table))) {
              // One pass over each table, however many text columns it has.
              const own = columns.filter((c) => c.table === table).map((c) => ({ name: quoteIdent(c.column), cast: c.type.startsWith("json") ? `::${c.type}` : "" }));
              const assignments = own.map(({ name, cast }) => `${name} = CASE WHEN ${name}::text ~* $1 THEN regexp_replace(${name}::text, $1, $2, 'gi')${cast} ELSE ${name} END`);
              const mentions = own.map(({ name }) => `${name}::text ~* $1`).join(" OR ");
              count(table, await tx.$executeRawUnsafe(`UPDATE ${quoteIdent(table)} SET ${assignments.join(", ")} WHERE ${mentions}`, pattern, ERASED_TEXT));
            }

            const inserted = await tx.$executeRaw`
              INSERT INTO suppressions (hash, key_check, erased_at) VALUES (${hash}, ${keyCheckOf(hashKey)}, ${erasedAt})
              ON CONFLICT (hash) DO NOTHING`;
            result = {
              hash,
              newlySuppressed: inserted > 0,
              changes: Object.fromEntries(Object.entries(changes).filter(([, rows]) => rows > 0)),
              moosendListIds: [...new Set(memberships.map((m) => m.listId))].sort(),
              loopsUserIds: [...new Set(links.map((l) => l.userId).filter((id): id is string => id !== null))].sort(),
            };
            if (options.dryRun) throw new DryRunRollback();
          },
          { timeout: ERASURE_TIMEOUT_MS, maxWait: ERASURE_TIMEOUT_MS },
        );
      } catch (err) {
        if (!(err instanceof DryRunRollback)) throw err;
      }
      return result!;
    },
  };
}
