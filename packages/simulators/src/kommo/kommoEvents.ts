import type { KommoSimFieldValue, KommoSimState } from "./kommoState";

/** One entry of Kommo's events feed (`GET /api/v4/events`), as the API renders it. */
export interface KommoSimEvent {
  /** Kommo's event ids are opaque lower-case strings (`01kysdbv…`). */
  id: string;
  type: string;
  entity_id: number;
  entity_type: "lead" | "contact";
  created_by: number;
  created_at: number;
  value_after: unknown[];
  value_before: unknown[];
  account_id: number;
}

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** A ULID-shaped id (time, then a counter), like the ids Kommo gives its events. */
function eventId(atSec: number, seq: number): string {
  let time = "";
  for (let t = atSec * 1000, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32] + time;
  let counter = "";
  for (let n = seq, i = 0; i < 16; i++, n = Math.floor(n / 32)) counter = ALPHABET[n % 32] + counter;
  return time + counter;
}

export class KommoEventLog {
  readonly events: KommoSimEvent[] = [];
  /**
   * Seconds added to each event's `created_at`: Kommo writes its events apart from the entity, so an
   * event's time and the entity's `updated_at` that the webhook carries need not be equal.
   */
  createdAtOffsetSeconds = 0;
  private seq = 0;

  constructor(private readonly state: KommoSimState, private readonly nowSec: () => number) {}

  record(type: string, entity: { type: "lead" | "contact"; id: number }, change: { after?: unknown[]; before?: unknown[]; by?: number } = {}): KommoSimEvent {
    const createdAt = this.nowSec() + this.createdAtOffsetSeconds;
    const event: KommoSimEvent = {
      id: eventId(createdAt, ++this.seq),
      type,
      entity_id: entity.id,
      entity_type: entity.type,
      created_by: change.by ?? 0,
      created_at: createdAt,
      value_after: change.after ?? [],
      value_before: change.before ?? [],
      account_id: this.state.account.id,
    };
    this.events.push(event);
    return event;
  }

  leadStatus(leadId: number, to: { statusId: number; pipelineId: number }, from: { statusId: number; pipelineId: number } | null, by: number): void {
    const status = (s: { statusId: number; pipelineId: number }) => ({ lead_status: { id: s.statusId, pipeline_id: s.pipelineId } });
    this.record(from ? "lead_status_changed" : "lead_added", { type: "lead", id: leadId }, { after: [status(to)], before: from ? [status(from)] : [], by });
  }

  /** One `custom_field_{id}_value_changed` per field whose values differ between the two snapshots. */
  fieldChanges(entity: { type: "lead" | "contact"; id: number }, before: KommoSimFieldValue[], after: KommoSimFieldValue[], by: number): void {
    const ids = new Set([...before, ...after].map((f) => f.fieldId));
    const valuesOf = (fields: KommoSimFieldValue[], fieldId: number) =>
      (fields.find((f) => f.fieldId === fieldId)?.values ?? []).map((v) => ({
        custom_field_value: { field_id: fieldId, text: String(v.value), ...(v.enumId !== undefined && { enum_id: v.enumId }) },
      }));
    for (const fieldId of ids) {
      const was = valuesOf(before, fieldId);
      const now = valuesOf(after, fieldId);
      if (JSON.stringify(was) !== JSON.stringify(now)) this.record(`custom_field_${fieldId}_value_changed`, entity, { before: was, after: now, by });
    }
  }
}

/** Copies an entity's field values, so a later change can be compared with them. */
export function snapshotFields(fields: KommoSimFieldValue[]): KommoSimFieldValue[] {
  return fields.map((f) => ({ fieldId: f.fieldId, values: f.values.map((v) => ({ ...v })) }));
}
