import express, { type Request, type RequestHandler, type Router } from "express";
import {
  applyContactPatch,
  isRecord,
  isValidEmail,
  LOOPS_MAX_STRING,
  parseContactFields,
  parseEventProperties,
  stableStringify,
  type Checked,
} from "./loopsContactFields";
import {
  contactToWire,
  findContactByEmail,
  findContactByUserId,
  newContact,
  type LoopsSimContact,
  type LoopsSimTemplate,
  type LoopsState,
} from "./loopsState";

export interface LoopsApiContext {
  state: LoopsState;
  now: () => number;
  /** What a second request with an already used Idempotency-Key and the SAME body gets. */
  identicalReplay: "409" | "original";
  /** Whether the team may use the content API (`/transactional-emails`); Loops answers 401 otherwise. */
  contentApi: boolean;
  /** Loops fires `contact.deleted` and `contact.unsubscribed` for a deletion through the API too. */
  contactDeleted: (contact: LoopsSimContact) => void;
}

interface Answer {
  status: number;
  body: unknown;
}

export const LOOPS_MAX_IDEMPOTENCY_KEY = 100;
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

const ok = (body: Record<string, unknown> = {}): Answer => ({ status: 200, body: { success: true, ...body } });
const fail = (status: number, message: string, extra: Record<string, unknown> = {}): Answer => ({
  status,
  body: { success: false, message, ...extra },
});

const INVALID_EMAIL = "Invalid email address.";
const ALREADY_EXISTS = "Email or userId already exists.";

function route(handler: (req: Request) => Answer): RequestHandler {
  return (req, res) => {
    const answer = handler(req);
    res.status(answer.status).json(answer.body);
  };
}

function bodyOf(req: Request): Record<string, unknown> | undefined {
  if (req.body === undefined) return {};
  return isRecord(req.body) ? req.body : undefined;
}

function checkUserId(value: unknown): Checked<string | undefined> {
  if (value === undefined || value === null || value === "") return { ok: true, value: undefined };
  if (typeof value !== "string") return { ok: false, message: `"userId" must be a string.` };
  if (value.length > LOOPS_MAX_STRING) return { ok: false, message: `The value of "userId" must be ${LOOPS_MAX_STRING} characters or fewer.` };
  return { ok: true, value };
}

/** Both ids given: either may match, and they must not point at two different contacts. */
function matchContact(state: LoopsState, email: string | undefined, userId: string | undefined) {
  const byEmail = email === undefined ? undefined : findContactByEmail(state, email);
  const byUserId = userId === undefined ? undefined : findContactByUserId(state, userId);
  if (byEmail && byUserId && byEmail !== byUserId) return { conflict: true as const };
  return { conflict: false as const, contact: byUserId ?? byEmail };
}

/** The identity part of a contact write or an event: an optional valid e-mail and an optional userId. */
function readIdentity(body: Record<string, unknown>): Checked<{ email?: string; userId?: string }> {
  const userId = checkUserId(body.userId);
  if (!userId.ok) return userId;
  if (body.email === undefined || body.email === null || body.email === "") return { ok: true, value: { userId: userId.value } };
  if (!isValidEmail(body.email)) return { ok: false, message: INVALID_EMAIL };
  return { ok: true, value: { email: body.email, userId: userId.value } };
}

/** The contact an identity names, updated with the other id (an e-mail change needs the userId), or a new one. */
function upsertIdentity(
  ctx: LoopsApiContext,
  identity: { email?: string; userId?: string },
  conflict: Answer,
): { contact: LoopsSimContact; created: boolean } | Answer {
  const match = matchContact(ctx.state, identity.email, identity.userId);
  if (match.conflict) return conflict;
  if (match.contact) {
    if (identity.email !== undefined) match.contact.email = identity.email;
    if (identity.userId !== undefined) match.contact.userId = identity.userId;
    return { contact: match.contact, created: false };
  }
  if (identity.email === undefined) return fail(400, "No contact matches this userId; an email is required to create one.");
  const contact = newContact({ email: identity.email, userId: identity.userId ?? null }, ctx.now());
  return { contact, created: true };
}

const isPublished = (t: LoopsSimTemplate) => t.published !== false;

/** One page of transactional e-mails by cursor (10 to 50 per page, 20 by default), as both list routes answer. */
function transactionalPage(req: Request, templates: LoopsSimTemplate[], toItem: (t: LoopsSimTemplate) => Record<string, unknown>): Answer {
  const perPage = req.query.perPage === undefined ? 20 : Number(req.query.perPage);
  if (!Number.isInteger(perPage) || perPage < 10 || perPage > 50) return fail(400, "perPage must be between 10 and 50.");
  const cursor = req.query.cursor;
  // Opaque to callers: here the id of the page's first e-mail.
  const start = typeof cursor === "string" && cursor !== "" ? templates.findIndex((t) => t.id === cursor) : 0;
  if (start < 0) return fail(400, "Invalid cursor.");
  const page = templates.slice(start, start + perPage);
  const next = templates[start + perPage];
  return {
    status: 200,
    body: {
      pagination: {
        totalResults: templates.length,
        returnedResults: page.length,
        perPage,
        totalPages: Math.ceil(templates.length / perPage),
        nextCursor: next ? next.id : null,
        nextPage: next ? `${req.path}?perPage=${perPage}&cursor=${encodeURIComponent(next.id)}` : null,
      },
      data: page.map(toItem),
    },
  };
}

const isAnswer = (value: object): value is Answer => "status" in value && "body" in value;

/**
 * Loops' Idempotency-Key on events/send and transactional: ≤ 100 characters, remembered 24 h per team,
 * and a reuse answers 409. Only a successful request consumes its key.
 */
function idempotent(ctx: LoopsApiContext, handler: (req: Request) => Answer): RequestHandler {
  return route((req) => {
    const key = req.get("idempotency-key");
    if (key === undefined || key === "") return handler(req);
    if (key.length > LOOPS_MAX_IDEMPOTENCY_KEY) {
      return fail(400, `Idempotency key must be ${LOOPS_MAX_IDEMPOTENCY_KEY} characters or fewer.`);
    }
    const now = ctx.now();
    for (const [k, record] of ctx.state.idempotencyKeys) if (now - record.at >= IDEMPOTENCY_TTL_MS) ctx.state.idempotencyKeys.delete(k);
    const fingerprint = `${req.path} ${stableStringify(req.body ?? null)}`;
    const previous = ctx.state.idempotencyKeys.get(key);
    if (previous) {
      if (ctx.identicalReplay === "original" && previous.fingerprint === fingerprint) {
        return { status: previous.status, body: previous.body };
      }
      return fail(409, "Idempotency key already used with a different request body.");
    }
    const answer = handler(req);
    if (answer.status === 200) ctx.state.idempotencyKeys.set(key, { fingerprint, at: now, status: answer.status, body: answer.body });
    return answer;
  });
}

const CONTACT_IDENTITY_KEYS = new Set(["email", "userId"]);
const EVENT_KEYS = new Set(["eventName", "email", "userId", "eventProperties"]);

/**
 * The endpoints of Loops API v1, with their full paths: mounting at "/api/v1" would rewrite `req.path`
 * and the request log would record paths without the prefix.
 */
export function createLoopsApi(ctx: LoopsApiContext): Router {
  const { state } = ctx;
  const router = express.Router();
  router.use("/api/v1", express.json({ limit: "5mb" }));

  router.get("/api/v1/api-key", route(() => ok({ teamName: state.teamName })));

  router.post(
    "/api/v1/contacts/create",
    route((req) => {
      const body = bodyOf(req);
      if (!body) return fail(400, "Request body must be a JSON object.");
      if (body.email === undefined || body.email === null || body.email === "") return fail(400, "An email is required.");
      const identity = readIdentity(body);
      if (!identity.ok) return fail(400, identity.message);
      const { email, userId } = identity.value;
      if (findContactByEmail(state, email!) || (userId !== undefined && findContactByUserId(state, userId))) {
        return fail(409, ALREADY_EXISTS);
      }
      const fields = parseContactFields(body, CONTACT_IDENTITY_KEYS, state);
      if (!fields.ok) return fail(400, fields.message);
      const contact = newContact({ email: email!, userId: userId ?? null }, ctx.now());
      applyContactPatch(contact, fields.value);
      state.contacts.set(contact.id, contact);
      return ok({ id: contact.id });
    }),
  );

  router.put(
    "/api/v1/contacts/update",
    route((req) => {
      const body = bodyOf(req);
      if (!body) return fail(400, "Request body must be a JSON object.");
      const identity = readIdentity(body);
      if (!identity.ok) return fail(400, identity.message);
      if (identity.value.email === undefined && identity.value.userId === undefined) {
        return fail(400, "An email or userId is required.");
      }
      const fields = parseContactFields(body, CONTACT_IDENTITY_KEYS, state);
      if (!fields.ok) return fail(400, fields.message);
      const upserted = upsertIdentity(ctx, identity.value, fail(409, ALREADY_EXISTS));
      if (isAnswer(upserted)) return upserted;
      applyContactPatch(upserted.contact, fields.value);
      state.contacts.set(upserted.contact.id, upserted.contact);
      return ok({ id: upserted.contact.id });
    }),
  );

  router.get(
    "/api/v1/contacts/find",
    route((req) => {
      const { email, userId } = req.query;
      if ((email === undefined) === (userId === undefined)) {
        return fail(400, "Provide either an email or a userId (one, not both).");
      }
      if (email !== undefined) {
        if (!isValidEmail(email)) return fail(400, INVALID_EMAIL);
        const contact = findContactByEmail(state, email);
        return { status: 200, body: contact ? [contactToWire(contact)] : [] };
      }
      if (typeof userId !== "string" || userId === "") return fail(400, `"userId" must be a string.`);
      const contact = findContactByUserId(state, userId);
      return { status: 200, body: contact ? [contactToWire(contact)] : [] };
    }),
  );

  router.post(
    "/api/v1/contacts/delete",
    route((req) => {
      const body = bodyOf(req);
      if (!body) return fail(400, "Request body must be a JSON object.");
      const hasEmail = body.email !== undefined && body.email !== null && body.email !== "";
      const hasUserId = body.userId !== undefined && body.userId !== null && body.userId !== "";
      if (hasEmail && hasUserId) return fail(400, "Provide either an email or a userId, not both.");
      if (!hasEmail && !hasUserId) return fail(400, "An email or userId is required.");
      if (hasEmail && typeof body.email !== "string") return fail(400, INVALID_EMAIL);
      if (hasUserId && typeof body.userId !== "string") return fail(400, `"userId" must be a string.`);
      const contact = hasEmail
        ? findContactByEmail(state, body.email as string)
        : findContactByUserId(state, body.userId as string);
      if (!contact) return fail(404, "Contact not found.");
      state.contacts.delete(contact.id);
      ctx.contactDeleted(contact);
      return ok({ message: "Contact deleted." });
    }),
  );

  router.post(
    "/api/v1/events/send",
    idempotent(ctx, (req) => {
      const body = bodyOf(req);
      if (!body) return fail(400, "Request body must be a JSON object.");
      if (typeof body.eventName !== "string" || body.eventName.trim() === "") return fail(400, "eventName is required.");
      if (body.eventName.length > LOOPS_MAX_STRING) return fail(400, `The value of "eventName" must be ${LOOPS_MAX_STRING} characters or fewer.`);
      const identity = readIdentity(body);
      if (!identity.ok) return fail(400, identity.message);
      if (identity.value.email === undefined && identity.value.userId === undefined) {
        return fail(400, "An email or userId is required.");
      }
      const eventProperties = parseEventProperties(body.eventProperties);
      if (!eventProperties.ok) return fail(400, eventProperties.message);
      const fields = parseContactFields(body, EVENT_KEYS, state);
      if (!fields.ok) return fail(400, fields.message);
      // A 409 here means a used Idempotency-Key, so two ids naming two contacts are a plain 400.
      const upserted = upsertIdentity(ctx, identity.value, fail(400, "The email and userId belong to different contacts."));
      if (isAnswer(upserted)) return upserted;
      const { contact } = upserted;
      applyContactPatch(contact, fields.value);
      state.contacts.set(contact.id, contact);
      const contactProperties = Object.fromEntries(
        Object.entries(body).filter(([key]) => !EVENT_KEYS.has(key) && key !== "mailingLists"),
      );
      state.events.push({
        eventName: body.eventName,
        contactId: contact.id,
        email: contact.email,
        userId: contact.userId,
        eventProperties: eventProperties.value,
        contactProperties,
        mailingLists: fields.value.mailingLists,
        idempotencyKey: req.get("idempotency-key") || null,
        at: ctx.now(),
      });
      return ok();
    }),
  );

  router.post(
    "/api/v1/transactional",
    idempotent(ctx, (req) => {
      const body = bodyOf(req);
      if (!body) return fail(400, "Request body must be a JSON object.");
      const transactionalId = body.transactionalId;
      if (typeof transactionalId !== "string" || transactionalId === "") return fail(400, "transactionalId is required.");
      if (body.email === undefined || body.email === null || body.email === "") return fail(400, "An email is required.");
      if (!isValidEmail(body.email)) return fail(400, INVALID_EMAIL);
      const email = body.email;
      if (body.addToAudience !== undefined && typeof body.addToAudience !== "boolean") {
        return fail(400, `"addToAudience" must be a boolean.`);
      }
      const template = state.templates.get(transactionalId);
      if (!template) return fail(404, "Transactional email not found.", { transactionalId });
      if (!isPublished(template)) return fail(400, "Transactional email is not published.", { transactionalId });
      const dataVariables = body.dataVariables ?? {};
      if (!isRecord(dataVariables)) return fail(400, `"dataVariables" must be an object.`, { transactionalId });
      const missing = template.dataVariables.filter((name) => dataVariables[name] === undefined || dataVariables[name] === null || dataVariables[name] === "");
      if (missing.length > 0) {
        const message = `Missing required data variable(s): ${missing.join(", ")}`;
        return fail(400, message, { error: { path: "dataVariables", message }, transactionalId });
      }
      if (body.attachments !== undefined && !Array.isArray(body.attachments)) return fail(400, `"attachments" must be an array.`);
      const addToAudience = body.addToAudience === true;
      if (addToAudience && !findContactByEmail(state, email)) {
        const contact = newContact({ email }, ctx.now());
        state.contacts.set(contact.id, contact);
      }
      state.transactionals.push({
        transactionalId,
        email,
        dataVariables: { ...dataVariables },
        addToAudience,
        idempotencyKey: req.get("idempotency-key") || null,
        at: ctx.now(),
      });
      return ok();
    }),
  );

  // Deprecated in Loops' spec 1.21.6: published e-mails only, in the old item shape.
  router.get(
    "/api/v1/transactional",
    route((req) =>
      transactionalPage(req, [...state.templates.values()].filter(isPublished), ({ id, name, lastUpdated, dataVariables }) => ({ id, name, lastUpdated, dataVariables })),
    ),
  );

  // The current list: drafts too (no published message, no data variables), most recently created first.
  router.get(
    "/api/v1/transactional-emails",
    route((req) => {
      if (!ctx.contentApi) return fail(401, "Invalid API key or content API not enabled for this team.", { error: "Unauthorized" });
      return transactionalPage(req, [...state.templates.values()].reverse(), (t) => ({
        id: t.id,
        name: t.name,
        draftEmailMessageId: t.published === false ? `${t.id}_draft` : null,
        publishedEmailMessageId: t.published === false ? null : `${t.id}_msg`,
        transactionalGroupId: null,
        createdAt: t.lastUpdated,
        updatedAt: t.lastUpdated,
        dataVariables: t.published === false ? [] : t.dataVariables,
      }));
    }),
  );

  router.get(
    "/api/v1/lists",
    route(() => ({ status: 200, body: state.lists.map(({ id, name, description, isPublic }) => ({ id, name, description, isPublic })) })),
  );

  router.get(
    "/api/v1/contacts/properties",
    route((req) => {
      const list = req.query.list;
      if (list !== undefined && list !== "all" && list !== "custom") return fail(400, `"list" must be "all" or "custom".`);
      const properties = list === "custom" ? state.properties.filter((p) => p.custom) : state.properties;
      return { status: 200, body: properties.map(({ key, label, type }) => ({ key, label, type })) };
    }),
  );

  return router;
}

/** Paths Loops serves and the methods each takes, so a wrong method is a 405, not a misleading 404. */
export const LOOPS_ROUTES: Record<string, string> = {
  "/api/v1/api-key": "GET",
  "/api/v1/contacts/create": "POST",
  "/api/v1/contacts/update": "PUT",
  "/api/v1/contacts/find": "GET",
  "/api/v1/contacts/delete": "POST",
  "/api/v1/events/send": "POST",
  "/api/v1/transactional": "GET, POST",
  "/api/v1/transactional-emails": "GET",
  "/api/v1/lists": "GET",
  "/api/v1/contacts/properties": "GET",
};
