import type {
  KommoEntityType,
  KommoSimContact,
  KommoSimFieldDef,
  KommoSimFieldValue,
  KommoSimLead,
  KommoSimPipeline,
  KommoSimState,
  KommoSimTag,
  KommoSimValue,
  KommoSimWebhook,
} from "./kommoState";

/** One entry of Kommo's `validation-errors[].errors`. */
export interface KommoFieldError {
  code: string;
  path: string;
  detail: string;
}

type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const link = (href: string) => ({ self: { href } });

/** `custom_fields_values` in API v4 read form, or null when the entity has none. */
export function renderCustomFields(state: KommoSimState, fields: KommoSimFieldValue[]): unknown[] | null {
  const out = fields.flatMap((field) => {
    const def = state.fields.find((f) => f.id === field.fieldId);
    if (!def || field.values.length === 0) return [];
    return [
      {
        field_id: def.id,
        field_name: def.name,
        field_code: def.code,
        field_type: def.type,
        values: field.values.map((v) => ({
          value: v.value,
          ...(v.enumId !== undefined && { enum_id: v.enumId }),
          ...(v.enumCode !== undefined && { enum_code: v.enumCode }),
        })),
      },
    ];
  });
  return out.length ? out : null;
}

const renderTags = (tags: KommoSimTag[]) => tags.map((t) => ({ id: t.id, name: t.name, color: null }));

export function renderLead(state: KommoSimState, lead: KommoSimLead, base: string, withContacts: boolean): Json {
  return {
    id: lead.id,
    name: lead.name,
    price: lead.price,
    responsible_user_id: lead.responsibleUserId,
    group_id: 0,
    status_id: lead.statusId,
    pipeline_id: lead.pipelineId,
    loss_reason_id: null,
    created_by: lead.responsibleUserId,
    updated_by: lead.responsibleUserId,
    created_at: lead.createdAt,
    updated_at: lead.updatedAt,
    closed_at: lead.closedAt,
    closest_task_at: null,
    is_deleted: lead.isDeleted,
    custom_fields_values: renderCustomFields(state, lead.customFields),
    score: null,
    account_id: state.account.id,
    labor_cost: null,
    _links: link(`${base}/leads/${lead.id}`),
    _embedded: {
      tags: renderTags(lead.tags),
      companies: [],
      ...(withContacts && {
        contacts: lead.contacts.map((c) => ({ id: c.id, is_main: c.isMain, _links: link(`${base}/contacts/${c.id}`) })),
      }),
    },
  };
}

export function leadIdsOfContact(state: KommoSimState, contactId: number): number[] {
  return leadIdsByContact(state).get(contactId) ?? [];
}

/** Every contact's live leads in one pass, so a page of 250 contacts does not scan the leads 250 times. */
export function leadIdsByContact(state: KommoSimState): Map<number, number[]> {
  const byContact = new Map<number, number[]>();
  for (const lead of state.leads.values()) {
    if (lead.isDeleted) continue;
    for (const { id } of lead.contacts) byContact.set(id, [...(byContact.get(id) ?? []), lead.id]);
  }
  return byContact;
}

export function renderContact(state: KommoSimState, contact: KommoSimContact, base: string, withLeads: boolean, leadIndex?: Map<number, number[]>): Json {
  return {
    id: contact.id,
    name: contact.name,
    first_name: contact.firstName,
    last_name: contact.lastName,
    responsible_user_id: contact.responsibleUserId,
    group_id: 0,
    created_by: contact.responsibleUserId,
    updated_by: contact.responsibleUserId,
    created_at: contact.createdAt,
    updated_at: contact.updatedAt,
    closest_task_at: null,
    is_deleted: contact.isDeleted,
    is_unsorted: false,
    custom_fields_values: renderCustomFields(state, contact.customFields),
    account_id: state.account.id,
    _links: link(`${base}/contacts/${contact.id}`),
    _embedded: {
      tags: renderTags(contact.tags),
      companies: [],
      ...(withLeads && {
        leads: (leadIndex ? (leadIndex.get(contact.id) ?? []) : leadIdsOfContact(state, contact.id)).map((id) => ({ id, _links: link(`${base}/leads/${id}`) })),
      }),
    },
  };
}

export function renderPipeline(state: KommoSimState, pipeline: KommoSimPipeline, base: string): Json {
  return {
    id: pipeline.id,
    name: pipeline.name,
    sort: pipeline.isMain ? 1 : 2,
    is_main: pipeline.isMain,
    is_unsorted_on: false,
    is_archive: false,
    account_id: state.account.id,
    _links: link(`${base}/leads/pipelines/${pipeline.id}`),
    _embedded: {
      statuses: pipeline.statuses.map((s) => ({
        id: s.id,
        name: s.name,
        sort: s.sort,
        is_editable: s.id !== 142 && s.id !== 143,
        pipeline_id: pipeline.id,
        color: s.color,
        type: 0,
        account_id: state.account.id,
        _links: link(`${base}/leads/pipelines/${pipeline.id}/statuses/${s.id}`),
      })),
    },
  };
}

export function renderField(field: KommoSimFieldDef, base: string): Json {
  return {
    id: field.id,
    name: field.name,
    type: field.type,
    code: field.code,
    sort: 500,
    is_api_only: false,
    entity_type: field.entityType,
    enums: field.enums ? field.enums.map((e, i) => ({ id: e.id, value: e.value, sort: (i + 1) * 2 })) : null,
    _links: link(`${base}/${field.entityType}/custom_fields/${field.id}`),
  };
}

export function renderWebhook(state: KommoSimState, hook: KommoSimWebhook): Json {
  return {
    id: hook.id,
    destination: hook.destination,
    created_at: hook.createdAt,
    updated_at: hook.updatedAt,
    account_id: state.account.id,
    created_by: 0,
    sort: 1,
    disabled: hook.disabled,
    settings: hook.settings,
  };
}

function parseValue(def: KommoSimFieldDef, raw: unknown, path: string, errors: KommoFieldError[]): KommoSimValue | undefined {
  const entry = isRecord(raw) ? raw : {};
  const value = entry.value;
  const invalid = (type: string) => {
    errors.push({ code: "InvalidType", path: `${path}.value`, detail: `This value should be of type ${type}.` });
    return undefined;
  };
  switch (def.type) {
    case "checkbox":
      return typeof value === "boolean" ? { value } : invalid("bool");
    case "numeric":
      if (typeof value === "number" && Number.isFinite(value)) return { value: String(value) };
      return typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)) ? { value: value.trim() } : invalid("numeric");
    case "date":
      return typeof value === "number" && Number.isSafeInteger(value) ? { value } : invalid("int");
    case "text":
      return typeof value === "string" ? { value } : invalid("string");
    case "multitext": {
      if (typeof value !== "string" || value.trim() === "") return invalid("string");
      const enums = def.enums ?? [];
      const byId = entry.enum_id === undefined ? undefined : enums.find((e) => e.id === entry.enum_id);
      const byCode = entry.enum_code === undefined ? undefined : enums.find((e) => e.value === entry.enum_code);
      if ((entry.enum_id !== undefined && !byId) || (entry.enum_code !== undefined && !byCode)) {
        errors.push({ code: "NotSupportedChoice", path: `${path}.enum_${byId === undefined && entry.enum_id !== undefined ? "id" : "code"}`, detail: "The value you selected is not a valid choice." });
        return undefined;
      }
      const chosen = byId ?? byCode ?? enums[0];
      return { value, ...(chosen && { enumId: chosen.id, enumCode: chosen.value }) };
    }
  }
}

/** Validates a `custom_fields_values` write; each field given replaces that field's values. */
export function parseCustomFieldsWrite(
  state: KommoSimState,
  entityType: KommoEntityType,
  raw: unknown,
  errors: KommoFieldError[],
): KommoSimFieldValue[] | undefined {
  if (!Array.isArray(raw)) {
    errors.push({ code: "InvalidType", path: "custom_fields_values", detail: "This value should be of type array." });
    return undefined;
  }
  const out: KommoSimFieldValue[] = [];
  raw.forEach((item, i) => {
    const path = `custom_fields_values.${i}`;
    const entry = isRecord(item) ? item : {};
    const def =
      entry.field_id !== undefined
        ? state.fields.find((f) => f.id === entry.field_id && f.entityType === entityType)
        : state.fields.find((f) => f.code !== null && f.code === entry.field_code && f.entityType === entityType);
    if (!def) {
      const key = entry.field_id !== undefined || entry.field_code === undefined ? "field_id" : "field_code";
      errors.push({ code: "NotSupportedChoice", path: `${path}.${key}`, detail: "The value you selected is not a valid choice." });
      return;
    }
    if (entry.values === null) {
      out.push({ fieldId: def.id, values: [] });
      return;
    }
    if (!Array.isArray(entry.values)) {
      errors.push({ code: "InvalidType", path: `${path}.values`, detail: "This value should be of type array." });
      return;
    }
    const values = entry.values.map((v, j) => parseValue(def, v, `${path}.values.${j}`, errors));
    if (values.every((v): v is KommoSimValue => v !== undefined)) out.push({ fieldId: def.id, values });
  });
  return out;
}

export function setFieldValues(entity: { customFields: KommoSimFieldValue[] }, update: KommoSimFieldValue): void {
  const rest = entity.customFields.filter((f) => f.fieldId !== update.fieldId);
  entity.customFields = update.values.length ? [...rest, update] : rest;
}

type TagRef = { id: number } | { name: string };

/** Validates `tags_to_add` / `tags_to_delete` / `_embedded.tags`: `[{name}|{id}]`. */
export function parseTagRefs(state: KommoSimState, entityType: KommoEntityType, raw: unknown, path: string, errors: KommoFieldError[]): TagRef[] {
  if (!Array.isArray(raw)) {
    errors.push({ code: "InvalidType", path, detail: "This value should be of type array." });
    return [];
  }
  const refs: TagRef[] = [];
  raw.forEach((item, i) => {
    if (isRecord(item) && typeof item.id === "number") {
      if (state.tags[entityType].some((t) => t.id === item.id)) refs.push({ id: item.id });
      else errors.push({ code: "NotSupportedChoice", path: `${path}.${i}.id`, detail: "The value you selected is not a valid choice." });
    } else if (isRecord(item) && typeof item.name === "string" && item.name.trim() !== "") {
      refs.push({ name: item.name.trim() });
    } else {
      errors.push({ code: "NotBlank", path: `${path}.${i}.name`, detail: "This value should not be blank." });
    }
  });
  return refs;
}

/** The account's tag for a reference, created when named and missing (tag ids differ per entity type). */
export function resolveTag(state: KommoSimState, entityType: KommoEntityType, ref: TagRef): KommoSimTag {
  const tags = state.tags[entityType];
  const found = "id" in ref ? tags.find((t) => t.id === ref.id) : tags.find((t) => t.name.toLowerCase() === ref.name.toLowerCase());
  if (found) return found;
  const tag = { id: state.nextId.tag++, name: "name" in ref ? ref.name : String(ref.id) };
  tags.push(tag);
  return tag;
}
