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
  /** States /readyz reports without being unready for them (e.g. `kommo: "blocked"`). */
  details?: Record<string, () => Promise<string>>;
  /** Dashboard that shows but cannot retry, promote or remove jobs. */
  readOnly?: boolean;
}

/** How long a /readyz detail may take: one read from a Redis that is down would otherwise hold the answer until it is back. */
const DETAIL_DEADLINE_MS = 500;

async function withinDeadline(detail: Promise<string>, fallback: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(fallback), DETAIL_DEADLINE_MS)));
  try {
    return await Promise.race([detail.catch(() => fallback), deadline]);
  } finally {
    clearTimeout(timer);
  }
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
    const details = Object.fromEntries(
      await Promise.all(Object.entries(options.details ?? {}).map(async ([name, detail]) => [name, await withinDeadline(detail(), "unknown")] as const)),
    );
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
