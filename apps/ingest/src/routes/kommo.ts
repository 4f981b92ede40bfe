import type { IncomingMessage } from "node:http";
import type { RequestHandler } from "express";
import getRawBody from "raw-body";
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

/** A body that cannot be read: the answer's status (400, 415) and message, like body-parser's errors. */
class KommoBodyError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * A Kommo webhook body as nested records: the form Kommo sends (PHP bracket keys) through
 * `decodeKommoForm`, or JSON of the same shape; any other type reads as empty. Rejects with a
 * `status` (413 over 1 MB or too many parameters, 415 compressed, 400 unreadable) for the app's error answer.
 */
export async function readKommoBody(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "").toLowerCase();
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase();
  // Kommo never compresses its webhooks; a compressed body would only decode to nonsense.
  if (encoding !== "identity") throw new KommoBodyError(`unsupported content encoding "${encoding}"`, 415);
  const text = await getRawBody(req, { length: req.headers["content-length"], limit: KOMMO_WEBHOOK_LIMITS.bytes, encoding: "utf8" });
  if (type.startsWith("application/x-www-form-urlencoded")) return decodeKommoForm(text);
  if (!type.startsWith("application/json")) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new KommoBodyError("body is not valid JSON", 400);
  }
}

/**
 * `POST /webhooks/kommo/:secret`. Kommo signs nothing, so the secret path segment is the proof.
 * One handler, registered ahead of the app's other routes: it is the path a webhook storm takes,
 * and every Express layer and body-parser step costs each webhook CPU.
 */
export function kommoWebhook(deps: RouteDeps & { secret: string | undefined }): RequestHandler {
  const matches = secretMatcher(deps.secret);
  return async (req, res, next) => {
    if (!matches(String(req.params.secret))) {
      req.resume();
      return respond(res, { kind: "notFound" }, deps, "kommo");
    }
    let body: unknown;
    try {
      body = await readKommoBody(req);
    } catch (err) {
      return next(err);
    }
    const changes = parseKommoWebhook(body);
    let outcome: IngestOutcome;
    if (changes.length === 0) {
      outcome = { kind: "malformed", reason: "no recognisable lead or contact change" };
    } else {
      const jobs = changes.map(jobForKommoChange).filter((job): job is JobRequest => job !== undefined);
      const stored = jobs.length === 0 ? { ok: true as const, jobIds: [] } : await deps.enqueuer.enqueue(jobs);
      outcome = stored.ok ? { kind: "accepted", jobIds: stored.jobIds } : { kind: "unavailable", reason: stored.reason };
    }
    respond(res, outcome, deps, "kommo");
  };
}
