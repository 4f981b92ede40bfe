import { randomUUID } from "node:crypto";
import express, { type ErrorRequestHandler, type Express } from "express";
import type { Logger } from "@funnelsync/logger";
import type { Enqueuer } from "./enqueuer";
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
}

/** Route patterns, never URLs: the Kommo and Moosend paths carry their secrets. */
function routePattern(req: express.Request): string {
  const path = req.route?.path ?? req.path;
  return typeof path === "string" ? path.replace(/^\/webhooks\/(kommo|moosend)\/[^/]+$/, "/webhooks/$1/:secret") : "unknown";
}

/** The ingest HTTP app, without listening: it authenticates, splits and enqueues, then answers. */
export function createApp(options: IngestAppOptions): Express {
  const { logger, metrics } = options;
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag"); // webhook answers are never cached; hashing each one costs ingest CPU
  app.set("trust proxy", options.trustProxy ?? 1);

  app.use((req, res, next) => {
    const requestId = (typeof req.headers["x-request-id"] === "string" && req.headers["x-request-id"].slice(0, 64)) || randomUUID();
    res.setHeader("x-request-id", requestId);
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routePattern(req);
      metrics.ackSeconds.observe({ route, status: String(res.statusCode) }, seconds);
      // Accepted deliveries are counted in /metrics and recorded per change by the worker; a line each
      // would cost a webhook storm a fifth of ingest's CPU, so they show at LOG_LEVEL=debug only.
      if (route.startsWith("/webhooks")) {
        const level = res.statusCode < 300 ? "debug" : res.statusCode < 500 ? "info" : "warn";
        logger.log(level, "ingest.request: answered", { requestId, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000), ip: req.ip });
      }
    });
    next();
  });

  const deps = { enqueuer: options.enqueuer, logger, metrics };
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
    const status = typeof err?.status === "number" && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) logger.error("ingest.request: failed", { route: routePattern(req), error: err });
    const tooLarge = status === 413 && err?.type === "entity.too.large";
    const message = tooLarge ? "body too large (limit 1 MB)" : status === 500 ? "internal error" : String(err?.message ?? "bad request");
    res.status(status).json({ status: status === 413 ? "tooLarge" : status === 500 ? "error" : "malformed", error: message });
  };
  app.use(onError);

  return app;
}
