import express, { Router, type RequestHandler } from "express";
import { decodeKommoForm, KOMMO_WEBHOOK_LIMITS, parseKommoWebhook, type KommoChange } from "@funnelsync/kommo-client";
import type { JobRequest } from "../enqueuer";
import type { IngestOutcome } from "../ingestOutcome";
import { secretMatcher } from "../secretMatches";
import { respond, type RouteDeps } from "./respond";

/** One job per entity change; deletions and other entities are acknowledged and left alone. */
export function jobForKommoChange(change: KommoChange): JobRequest | undefined {
  switch (change.kind) {
    case "lead.added":
    case "lead.statusChanged":
    case "lead.updated": {
      const name = change.kind === "lead.added" ? "kommo.leadAdded" : change.kind === "lead.statusChanged" ? "kommo.leadStatusChanged" : "kommo.leadUpdated";
      const { leadId, pipelineId, statusId, oldStatusId, updatedAt, accountId, fingerprint } = change;
      return { name, data: { leadId, pipelineId, statusId, oldStatusId, updatedAt, accountId, fingerprint } };
    }
    case "contact.added":
    case "contact.updated": {
      const { contactId, updatedAt, accountId, linkedLeadIds, fingerprint } = change;
      const action = change.kind === "contact.added" ? ("added" as const) : ("updated" as const);
      return { name: "kommo.contactChanged", data: { contactId, action, updatedAt, accountId, linkedLeadIds, fingerprint } };
    }
    default:
      return undefined;
  }
}

/**
 * Reads a Kommo webhook body into `req.body` as nested records: the form Kommo sends (PHP bracket
 * keys) through `decodeKommoForm`, or JSON of the same shape. A refused form is a 413 or 400 through
 * the app's error handler.
 */
export const readKommoBody: RequestHandler[] = [
  express.text({ type: "application/x-www-form-urlencoded", limit: KOMMO_WEBHOOK_LIMITS.bytes }),
  express.json({ limit: KOMMO_WEBHOOK_LIMITS.bytes }),
  (req, _res, next) => {
    if (typeof req.body === "string") req.body = decodeKommoForm(req.body);
    next();
  },
];

/**
 * `POST /webhooks/kommo/:secret`. Kommo signs nothing, so the secret path segment is the proof.
 * Kommo's body is form-encoded with PHP bracket keys (JSON of the same shape is accepted too).
 */
export function kommoRoute(deps: RouteDeps & { secret: string | undefined }): Router {
  const router = Router();
  const matches = secretMatcher(deps.secret);
  router.post(
    "/webhooks/kommo/:secret",
    (req, res, next) => (matches(String(req.params.secret)) ? next() : respond(res, { kind: "notFound" }, deps, "kommo")),
    ...readKommoBody,
    async (req, res) => {
      const changes = parseKommoWebhook(req.body);
      let outcome: IngestOutcome;
      if (changes.length === 0) {
        outcome = { kind: "malformed", reason: "no recognisable lead or contact change" };
      } else {
        const jobs = changes.map(jobForKommoChange).filter((job): job is JobRequest => job !== undefined);
        const stored = jobs.length === 0 ? { ok: true as const, jobIds: [] } : await deps.enqueuer.enqueue(jobs);
        outcome = stored.ok ? { kind: "accepted", jobIds: stored.jobIds } : { kind: "unavailable", reason: stored.reason };
      }
      respond(res, outcome, deps, "kommo");
    },
  );
  return router;
}
