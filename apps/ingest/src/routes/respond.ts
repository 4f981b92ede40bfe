import type { Response } from "express";
import type { Logger } from "@funnelsync/logger";
import type { Enqueuer } from "../enqueuer";
import { STATUS_FOR, type IngestOutcome } from "../ingestOutcome";
import type { IngestMetrics } from "../metrics";
import { WebhookBodyError } from "../webhookBody";

export interface RouteDeps {
  enqueuer: Enqueuer;
  logger: Logger;
  metrics: IngestMetrics;
  /** Writes a log line about a refused or failed request unless over the rate limit. */
  limitedLog: (write: () => void) => void;
  bodyTimeoutMs: number;
}

/** The request's answer deadline (a `performance.now()` time), set when it arrived (see `createApp`). */
export function answerBy(res: Response): number | undefined {
  return res.locals.answerBy as number | undefined;
}

function errorText(outcome: Exclude<IngestOutcome, { kind: "accepted" | "ignored" }>): string {
  return outcome.kind === "notFound" ? "not found" : outcome.kind === "unavailable" ? "queue unavailable, retry later" : outcome.reason;
}

function bodyOf(outcome: IngestOutcome): object {
  if (outcome.kind === "accepted") return { status: outcome.kind, jobs: outcome.jobIds.length };
  if (outcome.kind === "ignored") return { status: outcome.kind };
  return { status: outcome.kind, error: errorText(outcome) };
}

/** A body-reading failure as its outcome; anything else is a bug and goes to the app's error handler. */
export function bodyRejection(err: unknown): IngestOutcome {
  if (err instanceof WebhookBodyError) return { kind: err.rejection, reason: err.message };
  throw err;
}

/** Answers a webhook with the contract's status for its outcome, and counts it. */
export function respond(res: Response, outcome: IngestOutcome, deps: RouteDeps, source: string): void {
  deps.metrics.webhooks.inc({ source, outcome: outcome.kind });
  const status = STATUS_FOR[outcome.kind];
  if (outcome.kind === "unavailable") deps.limitedLog(() => deps.logger.warn("ingest.enqueue: queue unavailable", { source, reason: outcome.reason }));
  const json = JSON.stringify(bodyOf(outcome));
  const headers: Record<string, string | number> = { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(json) };
  // The rest of a slow body is never read: close the connection rather than wait for it.
  if (outcome.kind === "bodyTimeout") headers.connection = "close";
  // What res.json would send, without Express' send() machinery (a webhook storm pays it per request).
  res.writeHead(status, headers).end(json);
}
