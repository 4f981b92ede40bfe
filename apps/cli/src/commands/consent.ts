import type { ConsentEventRow, ConsentRepository, ConsentRow } from "@funnelsync/db";
import { parseAddress } from "../address";
import { isoTime, renderTable } from "../table";

export interface ConsentReport {
  email: string;
  current: ConsentRow | null;
  history: ConsentEventRow[];
}

/** An address's consent as the worker sees it before every subscribe, and how it got there. */
export async function consentReport(consent: Pick<ConsentRepository, "get" | "history">, email: string): Promise<ConsentReport> {
  const address = parseAddress("consent", email);
  const [current, history] = await Promise.all([consent.get(address), consent.history(address)]);
  return { email: address, current, history };
}

export function formatConsent(report: ConsentReport): string {
  const { current } = report;
  if (!current) return `${report.email}: no consent recorded (nothing withdrawn: stage changes subscribe it)`;
  if (current.state === "erased") {
    return `${report.email}: erased at ${isoTime(current.changedAt)} (forget): only a keyed hash is kept; nothing is synced for this address again`;
  }
  const lines = [
    `${report.email}: ${current.state}`,
    `  source  ${current.source}`,
    `  since   ${isoTime(current.changedAt)}`,
    `  reason  ${current.reason ?? "-"}`,
    `  event   ${current.eventRef ?? "-"}`,
    current.state === "subscribed"
      ? "  stage changes subscribe this address"
      : "  no stage change subscribes this address again; only an explicit opt-in in Kommo or the person's own re-subscribe lifts it",
  ];
  if (report.history.length > 0) {
    lines.push("", renderTable(["time", "state", "source", "reason", "event"], report.history.map((h) => [isoTime(h.at), h.state, h.source, h.reason, h.eventRef])));
  }
  return lines.join("\n");
}
