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

// Maps, not object literals: a body's action key (`toString`, `__proto__`) must never find a prototype member.
const LEAD_ACTIONS = new Map<string, KommoLeadChange["kind"]>([
  ["add", "lead.added"],
  ["status", "lead.statusChanged"],
  ["update", "lead.updated"],
  ["restore", "lead.updated"],
  ["responsible", "lead.updated"],
  ["delete", "lead.deleted"],
]);

const CONTACT_ACTIONS = new Map<string, KommoContactChange["kind"]>([
  ["add", "contact.added"],
  ["update", "contact.updated"],
  ["restore", "contact.updated"],
  ["responsible", "contact.updated"],
  ["delete", "contact.deleted"],
]);

/** The top-level keys of Kommo's webhook bodies: the account block and every entity it reports on. */
const KOMMO_BODY_KEYS = ["account", "leads", "contacts", "companies", "task", "unsorted", "catalogs", "message", "talk", "customers"];

type Json = Record<string, unknown>;

function fingerprintOf(item: Json): string {
  return hash("sha256", JSON.stringify(item)).slice(0, 12);
}

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null;
}

/** A property the body itself holds, never one inherited from `Object.prototype`. */
function own(record: Json, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * Whether a decoded body is recognisably a Kommo webhook (its account block or an entity key), so
 * one that holds nothing we act on can be acknowledged rather than refused: Kommo disables a hook
 * after 100 refusals in 2 h.
 */
export function isKommoWebhookBody(body: unknown): boolean {
  return isRecord(body) && !Array.isArray(body) && KOMMO_BODY_KEYS.some((key) => Object.hasOwn(body, key));
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
      const id = positiveId(isRecord(item) ? own(item, "ID") ?? own(item, "id") : item);
      if (id !== null) ids.add(id);
    }
  } else if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) {
      const id = positiveId(isRecord(item) ? own(item, "ID") ?? own(item, "id") : item) ?? positiveId(key);
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
  const account = own(body, "account");
  const bodyAccountId = isRecord(account) ? positiveId(own(account, "id")) : null;
  const changes: KommoChange[] = [];

  const leads = own(body, "leads");
  for (const [action, items] of Object.entries(isRecord(leads) ? leads : {})) {
    const actionKind = LEAD_ACTIONS.get(action);
    if (!actionKind) continue;
    for (const item of itemsOf(items)) {
      if (!isRecord(item)) continue;
      const leadId = positiveId(own(item, "id"));
      if (leadId === null) continue;
      const statusId = strictInt(own(item, "status_id"));
      const oldStatusId = strictInt(own(item, "old_status_id"));
      const moved = actionKind === "lead.updated" && action === "update" && oldStatusId !== null && statusId !== null && oldStatusId !== statusId;
      changes.push({
        kind: moved ? "lead.statusChanged" : actionKind,
        leadId,
        pipelineId: positiveId(own(item, "pipeline_id")),
        statusId,
        oldStatusId,
        updatedAt: positiveId(own(item, "updated_at")) ?? positiveId(own(item, "last_modified")),
        accountId: bodyAccountId ?? positiveId(own(item, "account_id")),
        fingerprint: fingerprintOf(item),
      });
    }
  }

  const contacts = own(body, "contacts");
  for (const [action, items] of Object.entries(isRecord(contacts) ? contacts : {})) {
    const kind = CONTACT_ACTIONS.get(action);
    if (!kind) continue;
    for (const item of itemsOf(items)) {
      if (!isRecord(item) || own(item, "type") === "company") continue;
      const contactId = positiveId(own(item, "id"));
      if (contactId === null) continue;
      changes.push({
        kind,
        contactId,
        updatedAt: positiveId(own(item, "updated_at")) ?? positiveId(own(item, "last_modified")),
        accountId: bodyAccountId ?? positiveId(own(item, "account_id")),
        linkedLeadIds: linkedLeadIdsOf(own(item, "linked_leads_id")),
        fingerprint: fingerprintOf(item),
      });
    }
  }
  return changes;
}
