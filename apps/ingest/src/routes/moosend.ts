import { createHash } from "node:crypto";
import express, { Router } from "express";
import { MoosendWebhookError, parseMoosendWebhook } from "@funnelsync/moosend-client";
import { secretMatcher } from "../secretMatches";
import { respond, type RouteDeps } from "./respond";

/**
 * `POST /webhooks/moosend/:secret`, the "post a webhook" step of a Moosend automation. Unsigned, so
 * the worker confirms the subscriber's status through the API before acting on it.
 */
export function moosendRoute(deps: RouteDeps & { secret: string | undefined }): Router {
  const router = Router();
  const matches = secretMatcher(deps.secret);
  router.post(
    "/webhooks/moosend/:secret",
    (req, res, next) => (matches(String(req.params.secret)) ? next() : respond(res, { kind: "notFound" }, deps, "moosend")),
    express.json({ limit: "1mb", type: () => true }),
    async (req, res) => {
      let hook: ReturnType<typeof parseMoosendWebhook>;
      try {
        hook = parseMoosendWebhook(req.body);
      } catch (err) {
        if (!(err instanceof MoosendWebhookError)) throw err;
        return respond(res, { kind: "malformed", reason: err.message }, deps, "moosend");
      }
      // Moosend sends no delivery id: a redelivery repeats the body, a new event differs from it.
      const deliveryHash = createHash("sha256").update(JSON.stringify(req.body)).digest("hex").slice(0, 16);
      const stored = await deps.enqueuer.enqueue([
        {
          name: "moosend.webhook",
          data: { subscriberId: hook.subscriberId, tags: hook.tags, email: hook.email ?? null, listId: hook.listId ?? null, deliveryHash },
        },
      ]);
      respond(res, stored.ok ? { kind: "accepted", jobIds: stored.jobIds } : { kind: "unavailable", reason: stored.reason }, deps, "moosend");
    },
  );
  return router;
}
