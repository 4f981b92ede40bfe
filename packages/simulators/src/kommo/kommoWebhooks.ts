import { SEED } from "../seed";
import type {
  KommoSimContact,
  KommoSimDelivery,
  KommoSimFieldValue,
  KommoSimLead,
  KommoSimNote,
  KommoSimState,
  KommoSimTask,
  KommoSimWebhook,
  KommoWebhookSetting,
} from "./kommoState";

function flatten(value: unknown, prefix: string, out: Array<[string, string]>): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => flatten(item, `${prefix}[${i}]`, out));
  } else if (typeof value === "object") {
    for (const [key, item] of Object.entries(value)) flatten(item, prefix ? `${prefix}[${key}]` : key, out);
  } else if (typeof value === "boolean") {
    out.push([prefix, value ? "1" : "0"]);
  } else {
    out.push([prefix, String(value)]);
  }
}

/** Percent-encoding as PHP's `http_build_query` does it: brackets encoded, spaces as `+`. */
function phpEncode(text: string): string {
  return encodeURIComponent(text).replace(/%20/g, "+").replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * A decoded webhook object (`{leads:{status:[{id:"1",…}]}, account:{…}}`) as the form-encoded body
 * Kommo POSTs: PHP bracket keys, every value a string (numbers as digits, booleans as 1/0), null
 * and undefined left out.
 */
export function encodeKommoWebhook(payload: Record<string, unknown>): string {
  const pairs: Array<[string, string]> = [];
  flatten(payload, "", pairs);
  return pairs.map(([key, value]) => `${phpEncode(key)}=${phpEncode(value)}`).join("&");
}

/** Custom fields in API v2 webhook form: `[{id,name,code?,values:[{value,enum?}]}]`; a date is a bare value. */
function hookCustomFields(state: KommoSimState, fields: KommoSimFieldValue[]): unknown[] | undefined {
  const out = fields.flatMap((field) => {
    const def = state.fields.find((f) => f.id === field.fieldId);
    if (!def || field.values.length === 0) return [];
    const values =
      def.type === "date"
        ? field.values.map((v) => String(v.value))
        : field.values.map((v) => ({ value: v.value, ...(v.enumId !== undefined && { enum: v.enumId }) }));
    return [{ id: def.id, name: def.name, ...(def.code && { code: def.code }), values }];
  });
  return out.length ? out : undefined;
}

export function leadHookItem(state: KommoSimState, lead: KommoSimLead, extra: { oldStatusId?: number } = {}): Record<string, unknown> {
  return {
    id: lead.id,
    name: lead.name,
    status_id: lead.statusId,
    ...(extra.oldStatusId !== undefined && { old_status_id: extra.oldStatusId }),
    ...(lead.price !== null && { price: lead.price }),
    responsible_user_id: lead.responsibleUserId,
    last_modified: lead.updatedAt,
    modified_user_id: lead.responsibleUserId,
    created_user_id: lead.responsibleUserId,
    date_create: lead.createdAt,
    pipeline_id: lead.pipelineId,
    tags: lead.tags.length ? lead.tags.map((t) => ({ id: t.id, name: t.name })) : undefined,
    account_id: state.account.id,
    custom_fields: hookCustomFields(state, lead.customFields),
    created_at: lead.createdAt,
    updated_at: lead.updatedAt,
  };
}

export function contactHookItem(state: KommoSimState, contact: KommoSimContact): Record<string, unknown> {
  const linked: Record<string, { ID: number }> = {};
  for (const lead of state.leads.values()) {
    if (!lead.isDeleted && lead.contacts.some((c) => c.id === contact.id)) linked[String(lead.id)] = { ID: lead.id };
  }
  return {
    id: contact.id,
    name: contact.name,
    responsible_user_id: contact.responsibleUserId,
    date_create: contact.createdAt,
    last_modified: contact.updatedAt,
    created_user_id: contact.responsibleUserId,
    modified_user_id: contact.responsibleUserId,
    account_id: state.account.id,
    custom_fields: hookCustomFields(state, contact.customFields),
    linked_leads_id: Object.keys(linked).length ? linked : undefined,
    tags: contact.tags.length ? contact.tags.map((t) => ({ id: t.id, name: t.name })) : undefined,
    type: "contact",
    created_at: contact.createdAt,
    updated_at: contact.updatedAt,
  };
}

/** A company as its hooks carry it: companies travel under `contacts` with `type=company` (vendor-apis.md §1.6). */
export function companyHookItem(state: KommoSimState, company: { id: number; name: string; createdAt: number }): Record<string, unknown> {
  return {
    id: company.id,
    name: company.name,
    responsible_user_id: SEED.kommo.responsibleUserId,
    date_create: company.createdAt,
    last_modified: company.createdAt,
    account_id: state.account.id,
    type: "company",
    created_at: company.createdAt,
    updated_at: company.createdAt,
  };
}

/** A task in API v2 webhook form: `element_type` 1 contact, 2 lead. */
export function taskHookItem(state: KommoSimState, task: KommoSimTask): Record<string, unknown> {
  return {
    id: task.id,
    element_id: task.entityId ?? undefined,
    element_type: task.entityType === "contacts" ? 1 : task.entityType === "leads" ? 2 : undefined,
    task_type: task.taskTypeId,
    text: task.text,
    status: task.isCompleted ? 1 : 0,
    complete_till: task.completeTill,
    responsible_user_id: task.responsibleUserId,
    account_id: state.account.id,
    created_at: task.createdAt,
    updated_at: task.createdAt,
  };
}

/** A note as `<entity>[note][0][note][…]`. */
export function noteHookItem(state: KommoSimState, note: KommoSimNote): Record<string, unknown> {
  return {
    note: {
      id: note.id,
      element_id: note.entityId,
      element_type: note.entityType === "contacts" ? 1 : 2,
      note_type: note.noteType === "common" ? 4 : note.noteType,
      text: typeof note.params.text === "string" ? note.params.text : undefined,
      account_id: state.account.id,
      created_at: note.createdAt,
      date_create: note.createdAt,
    },
  };
}

/** The decoded body of one webhook: `{<entity>:{<action>:[item, …]}, account:{…}}`. */
export function hookBody(
  state: KommoSimState,
  entity: "leads" | "contacts" | "task",
  action: string,
  items: Record<string, unknown> | Array<Record<string, unknown>>,
): Record<string, unknown> {
  return {
    [entity]: { [action]: Array.isArray(items) ? items : [items] },
    account: {
      subdomain: state.account.subdomain,
      id: state.account.id,
      _links: { self: `https://${state.account.subdomain}.amocrm.com` },
    },
  };
}

const INVALID_WINDOW_MS = 2 * 60 * 60 * 1000;
const INVALID_LIMIT = 100;

/**
 * POSTs one event to every enabled hook subscribed to it, one after the other, and records each
 * answer. A hook with more than 100 invalid answers in 2 h whose latest answer is invalid is disabled.
 */
export async function deliverKommoWebhook(
  state: KommoSimState,
  event: KommoWebhookSetting,
  payload: Record<string, unknown>,
  options: { timeoutMs: number },
): Promise<KommoSimDelivery[]> {
  const body = encodeKommoWebhook(payload);
  const hooks = state.webhooks.filter((hook) => !hook.disabled && hook.settings.includes(event));
  const deliveries: KommoSimDelivery[] = [];
  for (const hook of hooks) deliveries.push(await deliverOne(state, hook, event, body, options));
  return deliveries;
}

async function deliverOne(
  state: KommoSimState,
  hook: KommoSimWebhook,
  event: KommoWebhookSetting,
  body: string,
  options: { timeoutMs: number },
): Promise<KommoSimDelivery> {
  const at = Date.now();
  let status: KommoSimDelivery["status"];
  try {
    const response = await fetch(hook.destination, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "amoCRM-Webhooks/3.0" },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    status = response.status;
    await response.body?.cancel();
  } catch (err) {
    status = (err as Error).name === "TimeoutError" ? "timeout" : "error";
  }
  const ok = typeof status === "number" && status >= 100 && status <= 299;
  const delivery: KommoSimDelivery = { webhookId: hook.id, destination: hook.destination, event, body, status, ok, at, durationMs: Date.now() - at };
  state.deliveries.push(delivery);
  if (!ok) {
    hook.invalidAt = [...hook.invalidAt.filter((t) => t > at - INVALID_WINDOW_MS), at];
    if (hook.invalidAt.length > INVALID_LIMIT) hook.disabled = true;
  }
  return delivery;
}
