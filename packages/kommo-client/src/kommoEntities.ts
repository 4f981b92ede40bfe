import { normalizeEmail } from "@funnelsync/config";
/** Custom field values by field id, in the order Kommo lists them. */
export type KommoFieldValues = Record<number, Array<string | number | boolean>>;

export interface KommoLead {
  id: number;
  name: string;
  /** The lead's budget; null when none is set. */
  price: number | null;
  responsibleUserId: number | null;
  pipelineId: number;
  statusId: number;
  /** Unix seconds. */
  updatedAt: number;
  /** The contact marked `is_main`; lead webhooks never carry it, so this is how a lead reaches an e-mail. */
  mainContactId: number | null;
  contactIds: number[];
  customFields: KommoFieldValues;
  tags: string[];
}

export interface KommoContact {
  id: number;
  name: string;
  firstName: string;
  lastName: string;
  responsibleUserId: number | null;
  /** Unix seconds. */
  updatedAt: number;
  /** Every value of the EMAIL field, trimmed, in Kommo's order. */
  emails: string[];
  /** The same values with their type (`WORK`, `PRIV`, `OTHER`…; null when Kommo gives none). */
  emailValues: KommoEmailValue[];
  customFields: KommoFieldValues;
  tags: string[];
  leadIds: number[];
}

export interface KommoEmailValue {
  value: string;
  enumCode: string | null;
}

export interface KommoPipeline {
  id: number;
  name: string;
  statuses: Array<{ id: number; name: string }>;
}

/** A custom field of the account (`text`, `numeric`, `checkbox`, `multitext`…); `code` is `EMAIL`/`PHONE` for built-ins. */
export interface KommoCustomField {
  id: number;
  name: string;
  type: string;
  code: string | null;
  entityType: "leads" | "contacts";
}

/**
 * The address to sync for a contact: the first value typed with the earliest code of `preference`
 * (e.g. WORK before PRIV), else the contact's first value; lower-cased.
 */
export function preferredEmail(contact: Pick<KommoContact, "emailValues">, preference: readonly string[]): string | undefined {
  const rank = (v: KommoEmailValue) => {
    const i = v.enumCode === null ? -1 : preference.indexOf(v.enumCode.toUpperCase());
    return i === -1 ? preference.length : i;
  };
  const best = contact.emailValues.reduce<KommoEmailValue | undefined>((chosen, v) => (chosen === undefined || rank(v) < rank(chosen) ? v : chosen), undefined);
  return best && normalizeEmail(best.value);
}

/** The first value of a custom field, if the entity has one. */
export function fieldValue(entity: { customFields: KommoFieldValues }, fieldId: number): string | number | boolean | undefined {
  return entity.customFields[fieldId]?.[0];
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function int(value: unknown): number | null {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "string" && /^-?\d{1,15}$/.test(value)) return Number(value);
  return null;
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The `_embedded.<key>` array of a HAL answer; an absent or empty answer (204) yields []. */
export function embedded(body: unknown, key: string): unknown[] {
  return isRecord(body) && isRecord(body._embedded) ? list(body._embedded[key]) : [];
}

function customFieldsOf(raw: unknown): { values: KommoFieldValues; emailValues: KommoEmailValue[] } {
  const values: KommoFieldValues = {};
  const emailValues: KommoEmailValue[] = [];
  for (const field of list(raw)) {
    if (!isRecord(field)) continue;
    const fieldId = int(field.field_id);
    if (fieldId === null) continue;
    const fieldValues = list(field.values)
      .map((v) => (isRecord(v) ? v.value : undefined))
      .filter((v): v is string | number | boolean => ["string", "number", "boolean"].includes(typeof v));
    values[fieldId] = fieldValues;
    if (field.field_code === "EMAIL") {
      for (const v of list(field.values)) {
        if (!isRecord(v) || typeof v.value !== "string" || !v.value.trim()) continue;
        emailValues.push({ value: v.value.trim(), enumCode: typeof v.enum_code === "string" ? v.enum_code : null });
      }
    }
  }
  return { values, emailValues };
}

function tagsOf(entity: Json): string[] {
  const tags = isRecord(entity._embedded) ? list(entity._embedded.tags) : [];
  return tags.flatMap((tag) => (isRecord(tag) && typeof tag.name === "string" ? [tag.name] : []));
}

export function toKommoLead(raw: unknown): KommoLead | null {
  if (!isRecord(raw)) return null;
  const id = int(raw.id);
  const pipelineId = int(raw.pipeline_id);
  const statusId = int(raw.status_id);
  if (id === null || pipelineId === null || statusId === null) return null;
  const contacts = (isRecord(raw._embedded) ? list(raw._embedded.contacts) : []).filter(isRecord);
  const contactIds = contacts.map((c) => int(c.id)).filter((c): c is number => c !== null);
  const main = contacts.find((c) => c.is_main === true);
  return {
    id,
    name: str(raw.name),
    price: int(raw.price),
    responsibleUserId: int(raw.responsible_user_id),
    pipelineId,
    statusId,
    updatedAt: int(raw.updated_at) ?? 0,
    mainContactId: main ? int(main.id) : null,
    contactIds,
    customFields: customFieldsOf(raw.custom_fields_values).values,
    tags: tagsOf(raw),
  };
}

export function toKommoContact(raw: unknown): KommoContact | null {
  if (!isRecord(raw)) return null;
  const id = int(raw.id);
  if (id === null) return null;
  const { values, emailValues } = customFieldsOf(raw.custom_fields_values);
  const leads = isRecord(raw._embedded) ? list(raw._embedded.leads) : [];
  return {
    id,
    name: str(raw.name),
    firstName: str(raw.first_name),
    lastName: str(raw.last_name),
    responsibleUserId: int(raw.responsible_user_id),
    updatedAt: int(raw.updated_at) ?? 0,
    emails: emailValues.map((v) => v.value),
    emailValues,
    customFields: values,
    tags: tagsOf(raw),
    leadIds: leads.map((l) => (isRecord(l) ? int(l.id) : null)).filter((l): l is number => l !== null),
  };
}

export function toKommoPipeline(raw: unknown): KommoPipeline | null {
  if (!isRecord(raw)) return null;
  const id = int(raw.id);
  if (id === null) return null;
  const statuses = (isRecord(raw._embedded) ? list(raw._embedded.statuses) : []).flatMap((s) => {
    const statusId = isRecord(s) ? int(s.id) : null;
    return isRecord(s) && statusId !== null ? [{ id: statusId, name: str(s.name) }] : [];
  });
  return { id, name: str(raw.name), statuses };
}

export function toKommoCustomField(raw: unknown, entityType: "leads" | "contacts"): KommoCustomField | null {
  if (!isRecord(raw)) return null;
  const id = int(raw.id);
  if (id === null) return null;
  return { id, name: str(raw.name), type: str(raw.type), code: typeof raw.code === "string" ? raw.code : null, entityType };
}
