import type { Queue } from "bullmq";
import type { EngagementMapping } from "@funnelsync/config";
import type { Db, EngagementKind, EngagementMarkRow, EngagementRow } from "@funnelsync/db";
import { jobIdFor } from "@funnelsync/jobs";
import { KOMMO_MAX_PAGE, type KommoContact, type KommoLead, type KommoTaskInput } from "@funnelsync/kommo-client";
import type { KommoGateway } from "@funnelsync/vendor-gateway";
import { isVendorError } from "@funnelsync/vendor-http";

const WON_OR_LOST = new Set([142, 143]);
const HOUR_MS = 3_600_000;
/** A flush starts this long after its window closes, so an event stored at the window's very end is in it. */
const FLUSH_GRACE_MS = 1_000;
/** A mark's Kommo id while its POST is out: the answer may be lost although Kommo wrote it. */
const UNANSWERED = 0;
/** Kommo stamps whole seconds: look a little before the mark was written. */
const CLOCK_SLACK_MS = 2_000;
/**
 * People one flush round takes: every call type is then chunked at Kommo's 250 over the whole round,
 * so a window's writes fill their batches instead of paying each call type once per 250 people,
 * while a backlog still streams through in bounded pieces.
 */
const PEOPLE_PER_ROUND = 10 * KOMMO_MAX_PAGE;
const KIND_WORD: Record<EngagementKind, string> = { opened: "opened", clicked: "clicked a link in", delivered: "received" };


/** A person's Kommo contact, as far as engagement needs it: the leads it is on. */
type ContactLeads = Pick<KommoContact, "id" | "leadIds">;
/** A lead, as far as engagement needs it: open or not, and whose task a click makes. */
type LeadState = Pick<KommoLead, "id" | "statusId" | "responsibleUserId">;

interface Person {
  email: string;
  rows: EngagementRow[];
  pending: EngagementRow[];
  contacts: ContactLeads[];
}

/** What a sales person sees for one message and kind: how often and when last. */
export function engagementNoteText(rows: readonly EngagementRow[]): string {
  const last = rows.reduce((a, b) => (b.occurredAt > a.occurredAt ? b : a));
  const subject = last.subject ? `"${last.subject}"` : "an e-mail";
  const times = rows.length > 1 ? ` (${rows.length} times)` : "";
  const origin = last.origin ? ` from ${last.origin}` : "";
  return `funnelsync: ${last.email} ${KIND_WORD[last.kind]} ${subject}${origin}${times}, last ${last.occurredAt.toISOString().slice(0, 16).replace("T", " ")} UTC.`;
}

/** The person's score: every open and click we recorded, weighted; a value, so a repeat writes the same. */
export function engagementScore(rows: readonly EngagementRow[], weights: { opened: number; clicked: number }): number {
  return rows.reduce((sum, row) => sum + (row.kind === "opened" ? weights.opened : row.kind === "clicked" ? weights.clicked : 0), 0);
}

function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

function chunks<T>(items: readonly T[], size = KOMMO_MAX_PAGE): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface EngagementSyncOptions {
  settings: EngagementMapping;
  db: Db;
  /** Kommo on engagement's share of its limit, which leaves live sync the rest (`VendorGateway.kommoShare`). */
  kommo: KommoGateway;
  flushQueue: Queue;
  now: () => Date;
}

/**
 * Engagement back to Kommo. Events are stored as they come (once each); a flush per coalescing
 * window then writes what changed, in batch calls of up to 250 each: notes (one per
 * contact or open lead, message and kind, edited in place on later events), the contact's
 * last-engagement date, the lead's score and a follow-up task on a click.
 */
export class EngagementSync {
  constructor(private readonly options: EngagementSyncOptions) {}

  get settings(): EngagementMapping {
    return this.options.settings;
  }

  /** Makes sure a flush runs once the current window closes (one job per window, by its id). */
  async scheduleFlush(): Promise<void> {
    const windowMs = this.settings.coalesceSeconds * 1000;
    const now = this.options.now().getTime();
    const window = Math.floor(now / windowMs);
    const data = { window };
    await this.options.flushQueue.add("engagement.flush", data, {
      jobId: jobIdFor("engagement.flush", data),
      delay: (window + 1) * windowMs - now + FLUSH_GRACE_MS,
    });
  }

  /**
   * Writes to Kommo what was stored until now, in rounds of up to 2,500 people; returns how many engagements it
   * applied. What arrives meanwhile waits for the next window's flush, so rounds stay full under a
   * steady stream instead of draining it a few people at a time.
   */
  async flush(): Promise<number> {
    const upToId = await this.options.db.engagements.lastId();
    let applied = 0;
    for (;;) {
      const emails = await this.options.db.engagements.pendingEmails(PEOPLE_PER_ROUND, upToId);
      if (emails.length === 0) {
        // An event whose own request for this window's flush came in late (Redis slow) would wait for
        // the next event, maybe forever: whatever arrived during this flush gets the next window's.
        if ((await this.options.db.engagements.lastId()) > upToId) await this.scheduleFlush();
        return applied;
      }
      applied += await this.flushRound(emails, upToId);
    }
  }

  private async flushRound(emails: string[], upToId: bigint): Promise<number> {
    const { db } = this.options;
    const rows = (await db.engagements.forEmails(emails)).filter((r) => r.id <= upToId);
    const contacts = await this.contactsOf(emails);
    const people: Person[] = [...groupBy(rows, (r) => r.email)].map(([email, mine]) => ({
      email,
      rows: mine,
      pending: mine.filter((r) => r.appliedAt === null),
      contacts: contacts.get(email) ?? [],
    }));
    const leads = await this.leadStates([...new Set(people.flatMap((p) => p.contacts.flatMap((c) => c.leadIds)))]);
    const openLeadsOf = (contact: ContactLeads) => contact.leadIds.map((id) => leads.get(id)).filter((l): l is LeadState => !!l && !WON_OR_LOST.has(l.statusId));

    try {
      await this.writeNotes(people, openLeadsOf);
      await this.writeFields(people, openLeadsOf);
      await this.writeTasks(people, openLeadsOf);
    } catch (error) {
      // Kommo refuses a whole batch that names a contact or lead it has deleted, which the records still
      // hold while neither a webhook nor the events feed has told us: the next window's flush (this job,
      // refused, is not retried) reads the round's contacts afresh.
      if (isVendorError(error) && error.status === 400) {
        await db.kommoRecords.forgetContacts(people.flatMap((p) => p.contacts.map((c) => c.id)));
        await this.scheduleFlush();
      }
      throw error;
    }
    const pendingIds = people.flatMap((p) => p.pending.map((r) => r.id));
    await db.engagements.markApplied(pendingIds, this.options.now());
    return pendingIds.length;
  }

  /**
   * Contacts by address: the links forward sync keeps, with each contact's leads as forward sync last
   * read them (Kommo is read, 250 a call, only for contacts without that record); else Kommo's search
   * (one call per unknown address).
   */
  private async contactsOf(emails: string[]): Promise<Map<string, ContactLeads[]>> {
    const { db, kommo } = this.options;
    const linked = await db.engagements.linkedContactIds(emails);
    const unknown = emails.filter((email) => !linked.has(email));
    const contactIds = [...new Set([...linked.values()].flat())];
    const leadsOf = await db.kommoRecords.contactLeads(contactIds);
    for (const chunk of chunks(contactIds.filter((id) => !leadsOf.has(id)))) {
      const found = await kommo.contacts(chunk);
      for (const [id, contact] of found) leadsOf.set(id, contact.leadIds);
    }
    const result = new Map<string, ContactLeads[]>();
    for (const [email, ids] of linked) result.set(email, ids.flatMap((id) => (leadsOf.has(id) ? [{ id, leadIds: leadsOf.get(id)! }] : [])));
    for (const email of unknown) result.set(email, await kommo.findContactsByEmail(email));
    return result;
  }

  /** Leads by id: their stage and responsible user as forward sync last read them, else from Kommo (250 a call). */
  private async leadStates(leadIds: number[]): Promise<Map<number, LeadState>> {
    const { db, kommo } = this.options;
    const states: Map<number, LeadState> = await db.kommoRecords.leadStates(leadIds);
    for (const chunk of chunks(leadIds.filter((id) => !states.has(id)))) {
      const found = await kommo.leads(chunk);
      for (const [id, lead] of found) states.set(id, lead);
    }
    return states;
  }

  private async writeNotes(people: Person[], openLeadsOf: (c: ContactLeads) => LeadState[]): Promise<void> {
    const kinds = new Set(this.settings.notes);
    if (kinds.size === 0) return;
    const { db, kommo } = this.options;
    for (const entityType of ["contacts", "leads"] as const) {
      // By entity and key: two people on one lead (its two contacts) get one note per message and kind.
      const byEntityAndKey = new Map<string, { entityId: number; key: string; text: string }>();
      for (const person of people) {
        const touched = new Set(person.pending.filter((r) => kinds.has(r.kind)).map((r) => `note:${r.kind}:${r.messageId}`));
        if (touched.size === 0) continue;
        const byKey = groupBy(person.rows, (r) => `note:${r.kind}:${r.messageId}`);
        const entityIds = person.contacts.flatMap((c) => (entityType === "contacts" ? [c.id] : openLeadsOf(c).map((l) => l.id)));
        for (const entityId of new Set(entityIds)) for (const key of touched) byEntityAndKey.set(`${entityId}/${key}`, { entityId, key, text: engagementNoteText(byKey.get(key)!) });
      }
      const wanted = [...byEntityAndKey.values()];
      const stored = (await db.engagements.marks(entityType, [...new Set(wanted.map((w) => w.entityId))])).filter((m) => m.key.startsWith("note:"));
      const settled = await this.settle(stored, (mark, since) => kommo.recentNotes(entityType, mark.entityId, since));
      const marks = new Map(settled.map((m) => [`${m.entityId}/${m.key}`, m]));
      const edits = wanted.flatMap((w) => {
        const mark = marks.get(`${w.entityId}/${w.key}`);
        return mark && mark.text !== w.text ? [{ ...w, kommoId: mark.kommoId }] : [];
      });
      const added = wanted.filter((w) => !marks.has(`${w.entityId}/${w.key}`));
      for (const chunk of chunks(added)) {
        await db.engagements.saveMarks(chunk.map((w) => ({ entityType, entityId: w.entityId, key: w.key, kommoId: UNANSWERED, text: w.text })));
        const { value: ids } = await kommo.addNotes(entityType, chunk);
        await db.engagements.saveMarks(chunk.map((w, i) => ({ entityType, entityId: w.entityId, key: w.key, kommoId: ids[i]!, text: w.text })));
      }
      for (const chunk of chunks(edits)) {
        await kommo.updateNotes(entityType, chunk.map((e) => ({ id: e.kommoId, text: e.text })));
        await db.engagements.saveMarks(chunk.map((e) => ({ entityType, entityId: e.entityId, key: e.key, kommoId: e.kommoId, text: e.text })));
      }
    }
  }

  /** The contact's last-engagement date and the lead's score, both values computed from our rows. */
  private async writeFields(people: Person[], openLeadsOf: (c: ContactLeads) => LeadState[]): Promise<void> {
    const { lastEngagementFieldId, score } = this.settings;
    const contactUpdates = new Map<number, number>();
    const leadUpdates = new Map<number, number>();
    for (const person of people) {
      const engaged = person.rows.filter((r) => r.kind !== "delivered");
      if (!person.pending.some((r) => r.kind !== "delivered") || engaged.length === 0) continue;
      const latest = Math.max(...engaged.map((r) => Math.floor(r.occurredAt.getTime() / 1000)));
      const value = score ? engagementScore(person.rows, score) : 0;
      for (const contact of person.contacts) {
        if (lastEngagementFieldId) contactUpdates.set(contact.id, latest);
        if (score) for (const lead of openLeadsOf(contact)) leadUpdates.set(lead.id, value);
      }
    }
    const { db, kommo } = this.options;
    const write = async (entityType: "contacts" | "leads", fieldId: number, updates: Array<[number, number]>) => {
      // Recorded as sent, then with the time Kommo gave each entity, so that its `update_*` webhook,
      // however soon it comes, is known for ours (see `engagementEcho.ts`).
      await db.engagements.saveFieldWrites(entityType, updates.map(([id]) => ({ id, updatedAt: null })));
      const written = await kommo.updateFieldValues(entityType, updates.map(([id, value]) => ({ id, customFields: [{ fieldId, value }] })));
      await db.engagements.saveFieldWrites(entityType, written);
    };
    for (const chunk of chunks([...contactUpdates])) await write("contacts", lastEngagementFieldId!, chunk);
    for (const chunk of chunks([...leadUpdates])) await write("leads", score!.fieldId, chunk);
  }

  /** A follow-up task per open lead of a person who clicked, unless our last one there is still open. */
  private async writeTasks(people: Person[], openLeadsOf: (c: ContactLeads) => LeadState[]): Promise<void> {
    const taskOnClick = this.settings.taskOnClick;
    if (!taskOnClick) return;
    const { db, kommo, now } = this.options;
    const wanted = new Map<number, KommoTaskInput>();
    for (const person of people) {
      const clicks = person.pending.filter((r) => r.kind === "clicked");
      if (clicks.length === 0) continue;
      const subject = clicks[clicks.length - 1]!.subject ?? "an e-mail";
      for (const lead of person.contacts.flatMap(openLeadsOf)) {
        wanted.set(lead.id, {
          text: taskOnClick.text.replaceAll("{subject}", subject),
          completeTill: new Date(now().getTime() + taskOnClick.dueHours * HOUR_MS),
          entityType: "leads",
          entityId: lead.id,
          responsibleUserId: lead.responsibleUserId ?? undefined,
        });
      }
    }
    if (wanted.size === 0) return;
    const stored = (await db.engagements.marks("leads", [...wanted.keys()])).filter((m) => m.key === "task");
    const ours = await this.settle(stored, (mark, since) => kommo.recentOpenTasks("leads", mark.entityId, since));
    const open = ours.length ? await kommo.openTaskIds("leads", ours.map((m) => m.entityId)) : new Set<number>();
    for (const mark of ours) if (open.has(mark.kommoId)) wanted.delete(mark.entityId);
    for (const chunk of chunks([...wanted.values()])) {
      await db.engagements.saveMarks(chunk.map((task) => ({ entityType: "leads", entityId: task.entityId, key: "task", kommoId: UNANSWERED, text: task.text })));
      const ids = await kommo.addTasks(chunk);
      const marks: EngagementMarkRow[] = chunk.map((task, i) => ({ entityType: "leads", entityId: task.entityId, key: "task", kommoId: ids[i]!, text: task.text }));
      await db.engagements.saveMarks(marks);
    }
  }

  /**
   * Kommo has no idempotency key, so a note or task whose POST lost its answer may exist or not: it is
   * looked up on its entity by its exact text and adopted if found; if not, its mark is dropped and
   * it is written again.
   */
  private async settle(
    marks: EngagementMarkRow[],
    recent: (mark: EngagementMarkRow, since: Date) => Promise<Array<{ id: number; text: string }>>,
  ): Promise<EngagementMarkRow[]> {
    const settled: EngagementMarkRow[] = [];
    const adopted: EngagementMarkRow[] = [];
    for (const mark of marks) {
      if (mark.kommoId !== UNANSWERED) {
        settled.push(mark);
        continue;
      }
      const since = new Date((mark.updatedAt?.getTime() ?? 0) - CLOCK_SLACK_MS);
      const found = (await recent(mark, since)).find((written) => written.text === mark.text);
      if (found) adopted.push({ ...mark, kommoId: found.id });
    }
    if (adopted.length) await this.options.db.engagements.saveMarks(adopted);
    return [...settled, ...adopted];
  }
}
