/** One entry of Kommo's events feed, as funnelsync reads it. */
export interface KommoEvent {
  /** Opaque and unique (`01kysdbv…`). */
  id: string;
  type: string;
  entityId: number;
  entityType: string;
  /** Unix seconds. */
  createdAt: number;
  /** For `lead_status_changed` and `lead_added`: the stage after (and before) the change. */
  statusAfter: { pipelineId: number; statusId: number } | null;
  statusBefore: { pipelineId: number; statusId: number } | null;
}

/** A webhook registered on the account (`GET /api/v4/webhooks`). */
export interface KommoWebhook {
  id: number;
  destination: string;
  settings: string[];
  /** Kommo disables a hook after too many invalid answers, or on an IP block. */
  disabled: boolean;
}

type Json = Record<string, unknown>;
const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const int = (value: unknown): number | null => (typeof value === "number" && Number.isSafeInteger(value) ? value : null);

function leadStatusOf(values: unknown): { pipelineId: number; statusId: number } | null {
  for (const value of Array.isArray(values) ? values : []) {
    const status = isRecord(value) && isRecord(value.lead_status) ? value.lead_status : null;
    const statusId = int(status?.id);
    const pipelineId = int(status?.pipeline_id);
    if (statusId !== null && pipelineId !== null) return { pipelineId, statusId };
  }
  return null;
}

export function toKommoEvent(raw: unknown): KommoEvent | null {
  if (!isRecord(raw) || typeof raw.id !== "string" || typeof raw.type !== "string") return null;
  const entityId = int(raw.entity_id);
  const createdAt = int(raw.created_at);
  if (entityId === null || createdAt === null) return null;
  return {
    id: raw.id,
    type: raw.type,
    entityId,
    entityType: typeof raw.entity_type === "string" ? raw.entity_type : "",
    createdAt,
    statusAfter: leadStatusOf(raw.value_after),
    statusBefore: leadStatusOf(raw.value_before),
  };
}

export function toKommoWebhook(raw: unknown): KommoWebhook | null {
  if (!isRecord(raw) || typeof raw.destination !== "string") return null;
  return {
    id: int(raw.id) ?? 0,
    destination: raw.destination,
    settings: Array.isArray(raw.settings) ? raw.settings.filter((s): s is string => typeof s === "string") : [],
    disabled: raw.disabled === true,
  };
}
