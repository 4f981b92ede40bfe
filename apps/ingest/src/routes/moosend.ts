import { createHash } from "node:crypto";
import { Router } from "express";
import { MoosendWebhookError, parseMoosendWebhook } from "@funnelsync/moosend-client/webhook";
import { secretMatcher } from "../secretMatches";
import { parseLimitedJson, readWebhookBody } from "../webhookBody";
import { answerBy, bodyRejection, respond, type RouteDeps } from "./respond";

/**
 * `POST /webhooks/moosend/:secret`, the "post a webhook" step of a Moosend automation. Unsigned, so
 * the worker confirms the subscriber's status through the API before acting on it. Its content type
 * is undocumented, so any is read as JSON.
 */
export function moosendRoute(deps: RouteDeps & { secret: string | undefined }): Router {
  const router = Router();
  const matches = secretMatcher(deps.secret);
  router.post("/webhooks/moosend/:secret", async (req, res) => {
    if (!matches(String(req.params.secret))) {
      req.resume();
      return respond(res, { kind: "notFound" }, deps, "moosend");
    }
    let body: unknown;
    try {
      body = parseLimitedJson((await readWebhookBody(req, { timeoutMs: deps.bodyTimeoutMs })).toString("utf8"));
    } catch (err) {
      return respond(res, bodyRejection(err), deps, "moosend");
    }
    let hook: ReturnType<typeof parseMoosendWebhook>;
    try {
      hook = parseMoosendWebhook(body);
    } catch (err) {
      if (!(err instanceof MoosendWebhookError)) throw err;
      return respond(res, { kind: "malformed", reason: err.message }, deps, "moosend");
    }
    // Moosend sends no delivery id: a redelivery repeats the body, a new event differs from it.
    const deliveryHash = createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 16);
    const stored = await deps.enqueuer.enqueue(
      [{ name: "moosend.webhook", data: { subscriberId: hook.subscriberId, tags: hook.tags, email: hook.email ?? null, listId: hook.listId ?? null, deliveryHash } }],
      answerBy(res),
    );
    respond(res, stored.ok ? { kind: "accepted", jobIds: stored.jobIds } : { kind: "unavailable", reason: stored.reason }, deps, "moosend");
  });
  return router;
}
