import { normalizeEmail } from "@funnelsync/config";
import type { ContactLink, PrismaClient } from "./generated/prisma/client";

export interface ContactLinkRow {
  kommoContactId: number;
  /** the contact's current address, lower-case */
  email: string;
  loopsContactId: string | null;
  loopsUserId: string | null;
  updatedAt: Date;
}

export interface UpsertContactLinkInput {
  kommoContactId: number;
  email: string;
  /** undefined keeps the stored value, null clears it */
  loopsContactId?: string | null;
  /** undefined keeps the stored value, null clears it */
  loopsUserId?: string | null;
}

export interface ContactLinkRepository {
  get(kommoContactId: number): Promise<ContactLinkRow | null>;
  upsert(l: UpsertContactLinkInput): Promise<ContactLinkRow>;
  /** Every Kommo contact currently using the address, by contact id. */
  byEmail(email: string): Promise<ContactLinkRow[]>;
  /** Every Kommo contact using one of these addresses. */
  byEmails(emails: readonly string[]): Promise<ContactLinkRow[]>;
  /** Forgets a Kommo contact that no longer exists (merged away); an unknown id is left alone. */
  remove(kommoContactId: number): Promise<void>;
}

export function createContactLinkRepository(prisma: PrismaClient): ContactLinkRepository {
  return {
    async get(kommoContactId) {
      return prisma.contactLink.findUnique({ where: { kommoContactId } }).then((row) => row && toRow(row));
    },

    async upsert(l) {
      const email = normalizeEmail(l.email);
      const row = await prisma.contactLink.upsert({
        where: { kommoContactId: l.kommoContactId },
        create: { kommoContactId: l.kommoContactId, email, loopsContactId: l.loopsContactId ?? null, loopsUserId: l.loopsUserId ?? null },
        update: { email, loopsContactId: l.loopsContactId, loopsUserId: l.loopsUserId },
      });
      return toRow(row);
    },

    async byEmail(email) {
      const rows = await prisma.contactLink.findMany({ where: { email: normalizeEmail(email) }, orderBy: { kommoContactId: "asc" } });
      return rows.map(toRow);
    },

    async byEmails(emails) {
      if (emails.length === 0) return [];
      const rows = await prisma.contactLink.findMany({ where: { email: { in: emails.map(normalizeEmail) } }, orderBy: { kommoContactId: "asc" } });
      return rows.map(toRow);
    },

    async remove(kommoContactId) {
      await prisma.contactLink.deleteMany({ where: { kommoContactId } });
    },
  };
}

function toRow(r: ContactLink): ContactLinkRow {
  return { ...r };
}
