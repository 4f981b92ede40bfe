import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import type { Queue } from "bullmq";
import express, { type Express } from "express";
import basicAuth from "express-basic-auth";
import type { WorkerMetrics } from "./metrics";

export interface AdminAppOptions {
  queues: Queue[];
  metrics: WorkerMetrics;
  auth: { user: string; password: string | undefined };
  /** Each dependency's health, for /readyz. */
  checks: Record<string, () => Promise<boolean>>;
  /** States shown by /readyz that do not decide readiness (e.g. `kommo_webhook`). */
  details?: () => Promise<Record<string, string>>;
  /** Dashboard that shows but cannot retry, promote or remove jobs. */
  readOnly?: boolean;
}

/** The worker's private HTTP side: Bull Board behind basic auth, health, readiness and metrics. */
export function createAdminApp(options: AdminAppOptions): Express {
  const app = express();
  app.disable("x-powered-by");

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const results = Object.fromEntries(
      await Promise.all(Object.entries(options.checks).map(async ([name, check]) => [name, await check().catch(() => false)] as const)),
    );
    const ready = Object.values(results).every(Boolean);
    const details = await options.details?.().catch(() => ({}));
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", ...results, ...details });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  });

  const { password, user } = options.auth;
  if (!password) {
    app.use("/admin", (_req, res) => {
      res.status(503).type("text/plain").send("The dashboard is off: set ADMIN_PASSWORD to turn it on.\n");
    });
    return app;
  }
  const board = new ExpressAdapter();
  board.setBasePath("/admin/queues");
  createBullBoard({
    queues: options.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: options.readOnly ?? false, allowRetries: true })),
    serverAdapter: board,
  });
  app.use("/admin/queues", basicAuth({ users: { [user]: password }, challenge: true, realm: "funnelsync" }), board.getRouter());
  return app;
}
