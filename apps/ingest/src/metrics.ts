import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";

export interface IngestMetrics {
  registry: Registry;
  webhooks: Counter<"source" | "outcome">;
  ackSeconds: Histogram<"route" | "status">;
  logsSuppressed: Counter<never>;
}

/** A registry per app instance, so tests can run several apps in one process. */
export function createIngestMetrics(options: { defaultMetrics?: boolean } = {}): IngestMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "funnelsync_ingest_" });
  return {
    registry,
    webhooks: new Counter({
      name: "funnelsync_webhooks_total",
      help: "Webhook deliveries by source and outcome (accepted, ignored, unauthenticated, notFound, malformed, bodyTimeout, tooLarge, unsupportedMediaType, unavailable).",
      labelNames: ["source", "outcome"],
      registers: [registry],
    }),
    ackSeconds: new Histogram({
      name: "funnelsync_ingest_ack_seconds",
      help: "Time from request to answer, by route pattern (or `unmatched`) and status.",
      labelNames: ["route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers: [registry],
    }),
    logsSuppressed: new Counter({
      name: "funnelsync_ingest_rejection_logs_suppressed_total",
      help: "Log lines about refused or failed requests left out over the rate limit (the requests are still counted above).",
      registers: [registry],
    }),
  };
}
