import { hash } from "node:crypto";

export type KommoLeadChange = {
  kind: "lead.added" | "lead.statusChanged" | "lead.updated" | "lead.deleted";
  leadId: number;
  pipelineId: number | null;
  statusId: number | null;
  oldStatusId: number | null;
  /** Unix seconds, as Kommo stamped the change. */
  updatedAt: number | null;
  accountId: number | null;
  /** A hash of the entity as delivered: a redelivery repeats it, another edit in the same second does not. */
  fingerprint: string;
};

export type KommoContactChange = {
  kind: "contact.added" | "contact.updated" | "contact.deleted";
  contactId: number;
  updatedAt: number | null;
  accountId: number | null;
  linkedLeadIds: number[];
  fingerprint: string;
};

/** One entity change announced by a Kommo webhook. */
export type KommoChange = KommoLeadChange | KommoContactChange;

const LEAD_ACTIONS: Record<string, KommoLeadChange["kind"]> = {
  add: "lead.added",
  status: "lead.statusChanged",
  update: "lead.updated",
  restore: "lead.updated",
  responsible: "lead.updated",
  delete: "lead.deleted",
};

const CONTACT_ACTIONS: Record<string, KommoContactChange["kind"]> = {
  add: "contact.added",
  update: "contact.updated",
  restore: "contact.updated",
  responsible: "contact.updated",
  delete: "contact.deleted",
};

type Json = Record<string, unknown>;

function fingerprintOf(item: Json): string {
  return hash("sha256", JSON.stringify(item)).slice(0, 12);
}

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null;
}

/**
 * A list is an array (JSON, or a form list indexed 0…n-1) or an object keyed by index (a form list
 * with gaps). Either way the items are the values.
 */
function itemsOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return isRecord(value) ? Object.values(value) : [];
}

/** Webhook values are strings; anything but plain digits is not an id. */
function strictInt(value: unknown): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value !== "string" || !/^\d{1,15}$/.test(value.trim())) return null;
  return Number(value.trim());
}

function positiveId(value: unknown): number | null {
  const id = strictInt(value);
  return id !== null && id > 0 ? id : null;
}

/**
 * `linked_leads_id[<leadId>][ID]=<leadId>`: a map keyed by lead id; qs (and JSON senders) may give
 * it as an array of `{ID}` instead, which loses the key.
 */
function linkedLeadIdsOf(value: unknown): number[] {
  const ids = new Set<number>();
  if (Array.isArray(value)) {
    for (const item of value) {
      const id = positiveId(isRecord(item) ? item.ID ?? item.id : item);
      if (id !== null) ids.add(id);
    }
  } else if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) {
      const id = positiveId(isRecord(item) ? item.ID ?? item.id : item) ?? positiveId(key);
      if (id !== null) ids.add(id);
    }
  }
  return [...ids];
}

/**
 * Every lead and contact change in a Kommo webhook body, as `decodeKommoForm` (the form Kommo sends)
 * or `JSON.parse` decoded it. Companies, tasks, unsorted and other entities yield nothing;
 * a change without a numeric id is dropped. A `leads[update]` whose `old_status_id` differs from its
 * `status_id` is reported as a status change: Kommo sends a move both as `leads[status]` and as
 * `leads[update]`, and the job ids built from both are the same.
 * @see https://developers.kommo.com/docs/webhooks-general
 */
export function parseKommoWebhook(body: unknown): KommoChange[] {
  if (!isRecord(body) || Array.isArray(body)) return [];
  const account = isRecord(body.account) ? body.account : {};
  const bodyAccountId = positiveId(account.id);
  const changes: KommoChange[] = [];

  const leads = isRecord(body.leads) ? body.leads : {};
  for (const [action, items] of Object.entries(leads)) {
    const actionKind = LEAD_ACTIONS[action];
    if (!actionKind) continue;
    for (const item of itemsOf(items)) {
      if (!isRecord(item)) continue;
      const leadId = positiveId(item.id);
      if (leadId === null) continue;
      const statusId = strictInt(item.status_id);
      const oldStatusId = strictInt(item.old_status_id);
      const moved = actionKind === "lead.updated" && action === "update" && oldStatusId !== null && statusId !== null && oldStatusId !== statusId;
      changes.push({
        kind: moved ? "lead.statusChanged" : actionKind,
        leadId,
        pipelineId: positiveId(item.pipeline_id),
        statusId,
        oldStatusId,
        updatedAt: positiveId(item.updated_at) ?? positiveId(item.last_modified),
        accountId: bodyAccountId ?? positiveId(item.account_id),
        fingerprint: fingerprintOf(item),
      });
    }
  }

  const contacts = isRecord(body.contacts) ? body.contacts : {};
  for (const [action, items] of Object.entries(contacts)) {
    const kind = CONTACT_ACTIONS[action];
    if (!kind) continue;
    for (const item of itemsOf(items)) {
      if (!isRecord(item) || item.type === "company") continue;
      const contactId = positiveId(item.id);
      if (contactId === null) continue;
      changes.push({
        kind,
        contactId,
        updatedAt: positiveId(item.updated_at) ?? positiveId(item.last_modified),
        accountId: bodyAccountId ?? positiveId(item.account_id),
        linkedLeadIds: linkedLeadIdsOf(item.linked_leads_id),
        fingerprint: fingerprintOf(item),
      });
    }
  }
  return changes;
}
