import type { Response } from "express";
import type { Logger } from "@funnelsync/logger";
import type { Enqueuer } from "../enqueuer";
import { STATUS_FOR, type IngestOutcome } from "../ingestOutcome";
import type { IngestMetrics } from "../metrics";

export interface RouteDeps {
  enqueuer: Enqueuer;
  logger: Logger;
  metrics: IngestMetrics;
}

function errorText(outcome: Exclude<IngestOutcome, { kind: "accepted" }>): string {
  return outcome.kind === "notFound" ? "not found" : outcome.kind === "unavailable" ? "queue unavailable, retry later" : outcome.reason;
}

/** Answers a webhook with the contract's status for its outcome, and counts it. */
export function respond(res: Response, outcome: IngestOutcome, deps: RouteDeps, source: string): void {
  deps.metrics.webhooks.inc({ source, outcome: outcome.kind });
  const status = STATUS_FOR[outcome.kind];
  if (outcome.kind === "unavailable") deps.logger.warn("ingest.enqueue: queue unavailable", { source, reason: outcome.reason });
  const json = JSON.stringify(outcome.kind === "accepted" ? { status: outcome.kind, jobs: outcome.jobIds.length } : { status: outcome.kind, error: errorText(outcome) });
  // What res.json would send, without Express' send() machinery (a webhook storm pays it per request).
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(json) }).end(json);
}
