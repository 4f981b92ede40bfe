import { erasedAtOf, type EventRepository, type OutcomeRepository } from "@funnelsync/db";
import { isoTime, renderTable } from "../table";

/** One line of a lead's history: an event we received, or where one job step stands. */
export interface HistoryEntry {
  at: Date;
  job: string;
  /** `received` for an event, else the step (`moosend.subscribe`, `loops.event.deal_won`, `job` …). */
  step: string;
  vendor: string;
  status: string;
  vendorStatus: number | null;
  reason: string | null;
}

export interface HistoryDeps {
  events: Pick<EventRepository, "forLead">;
  outcomes: Pick<OutcomeRepository, "forLead">;
}

/** A row whose personal data `forget` erased says so. */
function withErasure(status: string, json: unknown): string {
  return erasedAtOf(json) ? `${status}, personal data erased` : status;
}

/**
 * Every event received about the lead and every outcome row of the jobs that synced it, in time
 * order. An outcome row is kept up to date by each attempt, so it is placed at its latest attempt;
 * an event comes before the steps of the same instant.
 */
export async function leadHistory(deps: HistoryDeps, leadId: number): Promise<HistoryEntry[]> {
  const [events, outcomes] = await Promise.all([deps.events.forLead(leadId), deps.outcomes.forLead(leadId)]);
  const entries: HistoryEntry[] = [
    ...events.map((e) => ({
      at: e.receivedAt,
      job: e.dedupeKey,
      step: "received",
      vendor: e.source,
      status: withErasure(e.processedAt ? "processed" : "received", e.payload),
      vendorStatus: null,
      reason: e.kind,
    })),
    ...outcomes.map((o) => ({
      at: o.updatedAt,
      job: o.jobId,
      step: o.step,
      vendor: o.vendor,
      status: withErasure(o.attempts > 1 ? `${o.status} (attempt ${o.attempts})` : o.status, o.detail),
      vendorStatus: o.vendorStatus,
      reason: o.reason,
    })),
  ];
  return entries.sort((a, b) => a.at.getTime() - b.at.getTime()); // stable: events first on a tie
}

export function formatHistory(leadId: number, entries: HistoryEntry[]): string {
  if (entries.length === 0) return `history: nothing recorded for lead ${leadId}`;
  const table = renderTable(
    ["time", "job", "step", "vendor", "status", "vendor status", "reason"],
    entries.map((e) => [isoTime(e.at), e.job, e.step, e.vendor, e.status, e.vendorStatus, e.reason]),
  );
  return `${table}\nhistory: lead ${leadId}, ${entries.length} entr${entries.length === 1 ? "y" : "ies"}`;
}
