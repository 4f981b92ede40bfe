import { randomUUID } from "node:crypto";
import express, { type ErrorRequestHandler, type Express } from "express";
import type { Logger } from "@funnelsync/logger";
import { ENQUEUE_TIMEOUT_MS, type Enqueuer } from "./enqueuer";
import { createLogLimiter } from "./logLimiter";
import { WEBHOOK_BODY_LIMITS } from "./webhookBody";
import type { IngestMetrics } from "./metrics";
import { kommoWebhook } from "./routes/kommo";
import { loopsRoute } from "./routes/loops";
import { moosendRoute } from "./routes/moosend";

export interface IngestAppOptions {
  enqueuer: Enqueuer;
  logger: Logger;
  metrics: IngestMetrics;
  secrets: { kommo: string | undefined; moosend: string | undefined; loops: string | undefined };
  /** Whether Redis answers and the process is not draining, for /readyz. */
  isReady: () => Promise<boolean>;
  /** Hops of reverse proxies in front (Express `trust proxy`), so client addresses are the real ones. */
  trustProxy?: number | boolean;
  now?: () => Date;
  /** How long after arriving a webhook is answered at the latest (503 when not stored); tests shorten it. */
  answerDeadlineMs?: number;
  /** How long a sender may take to deliver a body (default `WEBHOOK_BODY_LIMITS.timeoutMs`); tests shorten it. */
  bodyTimeoutMs?: number;
}

/** Refusal log lines allowed per minute; the rest are counted in `funnelsync_ingest_rejection_logs_suppressed_total`. */
const REJECTION_LOGS_PER_MINUTE = 60;

/**
 * The route pattern that answered, or `unmatched`: a closed set, so neither a random path nor the
 * secret in a Kommo or Moosend URL ever becomes a metric label or a log field.
 */
function routeLabel(req: express.Request): string {
  const path: unknown = req.route?.path;
  return typeof path === "string" ? path : "unmatched";
}

/** The ingest HTTP app, without listening: it authenticates, splits and enqueues, then answers. */
export function createApp(options: IngestAppOptions): Express {
  const { logger, metrics } = options;
  const now = options.now ?? (() => new Date());
  const limitedLog = createLogLimiter({ perWindow: REJECTION_LOGS_PER_MINUTE, windowMs: 60_000, now: () => now().getTime(), onSuppressed: () => metrics.logsSuppressed.inc() });
  const answerDeadlineMs = options.answerDeadlineMs ?? ENQUEUE_TIMEOUT_MS;
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag"); // webhook answers are never cached; hashing each one costs ingest CPU
  app.set("trust proxy", options.trustProxy ?? 1);

  app.use((req, res, next) => {
    const requestId = (typeof req.headers["x-request-id"] === "string" && req.headers["x-request-id"].slice(0, 64)) || randomUUID();
    res.setHeader("x-request-id", requestId);
    const started = process.hrtime.bigint();
    res.locals.answerBy = performance.now() + answerDeadlineMs;
    res.on("finish", () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeLabel(req);
      metrics.ackSeconds.observe({ route, status: String(res.statusCode) }, seconds);
      // Accepted deliveries are counted in /metrics and recorded per change by the worker; a line each
      // would cost a webhook storm a fifth of ingest's CPU, so they show at LOG_LEVEL=debug only.
      // Refusals show at the default level, rate-limited: anyone can send them.
      if (route.startsWith("/webhooks") || route === "unmatched") {
        const fields = { requestId, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000), ip: req.ip };
        if (res.statusCode < 300) logger.debug("ingest.request: answered", fields);
        else limitedLog(() => logger.log(res.statusCode < 500 ? "info" : "warn", "ingest.request: answered", fields));
      }
    });
    next();
  });

  const deps = { enqueuer: options.enqueuer, logger, metrics, limitedLog, bodyTimeoutMs: options.bodyTimeoutMs ?? WEBHOOK_BODY_LIMITS.timeoutMs };
  app.post("/webhooks/kommo/:secret", kommoWebhook({ ...deps, secret: options.secrets.kommo }));
  app.use(moosendRoute({ ...deps, secret: options.secrets.moosend }));
  app.use(loopsRoute({ ...deps, secret: options.secrets.loops, now: options.now }));

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const ready = await options.isReady();
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable" });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use((_req, res) => {
    res.status(404).json({ error: "not found" });
  });

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    // Express' own 4xx (a path segment that is not valid percent-encoding); anything else is a bug.
    if (typeof err?.status === "number" && err.status >= 400 && err.status < 500) return void res.status(err.status).json({ status: "malformed", error: "bad request" });
    limitedLog(() => logger.error("ingest.request: failed", { route: routeLabel(req), error: err }));
    res.status(500).json({ status: "error", error: "internal error" });
  };
  app.use(onError);

  return app;
}
