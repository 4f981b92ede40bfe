import { Router } from "express";
import { LoopsWebhookPayloadError, LoopsWebhookVerificationError, verifyLoopsWebhook, type LoopsEmailMetricEvent, type LoopsWebhookEvent } from "@funnelsync/loops-client/webhook";
import type { JobRequest } from "../enqueuer";
import type { IngestOutcome } from "../ingestOutcome";
import { readWebhookBody } from "../webhookBody";
import { answerBy, bodyRejection, respond, type RouteDeps } from "./respond";

function verify(secret: string | undefined, body: Buffer, headers: Record<string, string | string[] | undefined>, now: () => Date): LoopsWebhookEvent | IngestOutcome {
  if (!secret) return { kind: "notFound" };
  try {
    return verifyLoopsWebhook(secret, body, headers, now());
  } catch (err) {
    if (err instanceof LoopsWebhookVerificationError) return { kind: "unauthenticated", reason: err.message };
    if (err instanceof LoopsWebhookPayloadError) return { kind: "malformed", reason: err.message };
    throw err;
  }
}

const ENGAGEMENT_KIND = { "email.delivered": "delivered", "email.opened": "opened", "email.clicked": "clicked" } as const;

/** Opens, clicks and deliveries travel on their own queue, never ahead of an unsubscribe. */
function engagementJob(event: LoopsEmailMetricEvent): JobRequest<"loops.engagement"> {
  const sourceId = event.campaignId ?? event.loopId ?? event.transactionalId;
  return {
    name: "loops.engagement",
    data: {
      webhookId: event.webhookId,
      kind: ENGAGEMENT_KIND[event.eventName],
      eventTime: event.eventTime,
      email: event.contactIdentity.email,
      messageId: event.email.id,
      subject: event.email.subject,
      origin: sourceId ? `${event.sourceType} ${sourceId}` : event.sourceType,
    },
  };
}

/**
 * `POST /webhooks/loops`: Standard Webhooks signature over the raw body, so the body is kept as
 * bytes until verified. A redelivery repeats its `webhook-id`, which is the job id.
 */
export function loopsRoute(deps: RouteDeps & { secret: string | undefined; now?: () => Date }): Router {
  const router = Router();
  router.post("/webhooks/loops", async (req, res) => {
    let body: Buffer;
    try {
      body = await readWebhookBody(req, { timeoutMs: deps.bodyTimeoutMs });
    } catch (err) {
      return respond(res, bodyRejection(err), deps, "loops");
    }
    const verified = verify(deps.secret, body, req.headers, deps.now ?? (() => new Date()));
    if ("kind" in verified) return respond(res, verified, deps, "loops");
    const event = verified;
    if (!event.contactIdentity) return respond(res, { kind: "ignored", reason: "Loops' test send" }, deps, "loops");
    const isEngagement = event.known && Object.hasOwn(ENGAGEMENT_KIND, event.eventName);
    const stored = await deps.enqueuer.enqueue([
      isEngagement ? engagementJob(event as LoopsEmailMetricEvent) : {
        name: "loops.webhook",
        data: {
          webhookId: event.webhookId,
          eventName: event.eventName,
          eventTime: event.eventTime ?? null,
          contactId: event.contactIdentity.id ?? null,
          email: event.contactIdentity.email ?? null,
          userId: event.contactIdentity.userId ?? null,
          mailingListId: "mailingList" in event && event.mailingList ? event.mailingList.id : null,
          sourceType: "sourceType" in event && typeof event.sourceType === "string" ? event.sourceType : null,
        },
      },
    ] as JobRequest[], answerBy(res));
    respond(res, stored.ok ? { kind: "accepted", jobIds: stored.jobIds } : { kind: "unavailable", reason: stored.reason }, deps, "loops");
  });
  return router;
}
