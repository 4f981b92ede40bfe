import type { IncomingMessage } from "node:http";
import type { RequestHandler } from "express";
import { isValidJobData } from "@funnelsync/jobs";
import { decodeKommoForm, isKommoWebhookBody, KommoFormError, parseKommoWebhook, type KommoChange } from "@funnelsync/kommo-client/webhook";
import type { JobRequest } from "../enqueuer";
import type { IngestOutcome } from "../ingestOutcome";
import { secretMatcher } from "../secretMatches";
import { mediaTypeOf, parseLimitedJson, readWebhookBody, WebhookBodyError } from "../webhookBody";
import { answerBy, bodyRejection, respond, type RouteDeps } from "./respond";

/** One job per lead or contact change; other entities are acknowledged and left alone. */
export function jobForKommoChange(change: KommoChange): JobRequest | undefined {
  switch (change.kind) {
    case "lead.added":
    case "lead.statusChanged":
    case "lead.updated": {
      const name = change.kind === "lead.added" ? "kommo.leadAdded" : change.kind === "lead.statusChanged" ? "kommo.leadStatusChanged" : "kommo.leadUpdated";
      const { leadId, pipelineId, statusId, oldStatusId, updatedAt, accountId, fingerprint } = change;
      return { name, data: { leadId, pipelineId, statusId, oldStatusId, updatedAt, accountId, fingerprint } };
    }
    case "lead.deleted": {
      const { leadId, pipelineId, statusId, accountId } = change;
      return { name: "kommo.leadDeleted", data: { leadId, pipelineId, statusId, accountId } };
    }
    case "contact.added":
    case "contact.updated":
    case "contact.deleted": {
      const { contactId, updatedAt, accountId, linkedLeadIds, fingerprint } = change;
      const action = change.kind === "contact.added" ? ("added" as const) : change.kind === "contact.deleted" ? ("deleted" as const) : ("updated" as const);
      return { name: "kommo.contactChanged", data: { contactId, action, updatedAt, accountId, linkedLeadIds, fingerprint } };
    }
    default:
      return undefined;
  }
}

/** The jobs a delivery's changes call for, each valid against the schema the worker checks it with. */
export function jobsForKommoChanges(changes: KommoChange[]): JobRequest[] {
  const jobs: JobRequest[] = [];
  for (const change of changes) {
    const job = jobForKommoChange(change);
    if (job && isValidJobData(job.name, job.data)) jobs.push(job);
  }
  return jobs;
}

const FORM = "application/x-www-form-urlencoded";
const JSON_TYPE = "application/json";

/**
 * A Kommo webhook body as nested records: the form Kommo sends (PHP bracket keys) through
 * `decodeKommoForm`, or JSON of the same shape, both held to the same limits. Rejects with a
 * `WebhookBodyError` (413 over a limit, 415 another type or compressed, 408 too slow, 400 unreadable).
 */
export async function readKommoBody(req: IncomingMessage, options: { timeoutMs?: number } = {}): Promise<unknown> {
  const text = (await readWebhookBody(req, { mediaTypes: [FORM, JSON_TYPE], timeoutMs: options.timeoutMs })).toString("utf8");
  if (mediaTypeOf(req) === JSON_TYPE) return parseLimitedJson(text);
  try {
    return decodeKommoForm(text);
  } catch (err) {
    if (err instanceof KommoFormError) throw new WebhookBodyError(err.message, "tooLarge");
    throw err;
  }
}

/** What a readable, authenticated delivery comes to: its jobs stored, ignored, or refused as not Kommo's. */
async function outcomeOf(body: unknown, deps: RouteDeps, deadline: number | undefined): Promise<IngestOutcome> {
  const jobs = jobsForKommoChanges(parseKommoWebhook(body));
  if (jobs.length === 0) {
    // Kommo disables a hook after 100 non-2xx answers in 2 h: a delivery of its own that we do not
    // act on (a company, task or note, an event ticked by mistake) is acknowledged.
    return isKommoWebhookBody(body) ? { kind: "ignored", reason: "no lead or contact change we act on" } : { kind: "malformed", reason: "not a Kommo webhook body" };
  }
  const stored = await deps.enqueuer.enqueue(jobs, deadline);
  return stored.ok ? { kind: "accepted", jobIds: stored.jobIds } : { kind: "unavailable", reason: stored.reason };
}

/**
 * `POST /webhooks/kommo/:secret`. Kommo signs nothing, so the secret path segment is the proof.
 * One handler, registered ahead of the app's other routes: it is the path a webhook storm takes,
 * and every Express layer and body-parser step costs each webhook CPU.
 */
export function kommoWebhook(deps: RouteDeps & { secret: string | undefined }): RequestHandler {
  const matches = secretMatcher(deps.secret);
  return async (req, res) => {
    if (!matches(String(req.params.secret))) {
      req.resume();
      return respond(res, { kind: "notFound" }, deps, "kommo");
    }
    let body: unknown;
    try {
      body = await readKommoBody(req, { timeoutMs: deps.bodyTimeoutMs });
    } catch (err) {
      return respond(res, bodyRejection(err), deps, "kommo");
    }
    respond(res, await outcomeOf(body, deps, answerBy(res)), deps, "kommo");
  };
}
