import { Router } from "express";
import { SEED } from "../seed";
import type { KommoAccount } from "./kommoAccount";
import { API, baseOf, emptyRequest, entityParam, filterOf, hal, idParam, listPage, problem, validationFailed } from "./kommoHttp";
import { KOMMO_WEBHOOK_SETTINGS, type KommoWebhookSetting } from "./kommoState";
import { isRecord, renderField, renderPipeline, renderWebhook, type KommoFieldError } from "./kommoWire";

const MAX_WEBHOOKS = 100;

/** The account, its pipelines and custom fields, and its webhook registrations. */
export function kommoAccountRoutes(account: KommoAccount): Router {
  const { state } = account;
  const router = Router();

  router.get(`${API}/account`, (req, res) => {
    hal(res, 200, {
      id: state.account.id, name: state.account.name, subdomain: state.account.subdomain, country: "BR", currency: "USD",
      current_user_id: SEED.kommo.responsibleUserId, _links: { self: { href: `${baseOf(req)}/account` } },
    });
  });

  router.get(`${API}/leads/pipelines`, (req, res) => {
    hal(res, 200, {
      _total_items: state.pipelines.length,
      _links: { self: { href: `${baseOf(req)}/leads/pipelines` } },
      _embedded: { pipelines: state.pipelines.map((p) => renderPipeline(state, p, baseOf(req))) },
    });
  });

  router.get(`${API}/leads/pipelines/:id`, (req, res, next) => {
    if (idParam(req) === null) return next();
    const pipeline = state.pipelines.find((p) => p.id === idParam(req));
    if (!pipeline) return void res.status(204).end();
    hal(res, 200, renderPipeline(state, pipeline, baseOf(req)));
  });

  router.get(`${API}/:entity/custom_fields`, (req, res, next) => {
    const entity = entityParam(req);
    if (!entity) return next();
    const fields = state.fields.filter((f) => f.entityType === entity);
    listPage(req, res, fields, "custom_fields", (f) => renderField(f, baseOf(req)));
  });

  router.get(`${API}/webhooks`, (req, res) => {
    const filter = filterOf(req);
    const destination = typeof filter.destination === "string" ? filter.destination : undefined;
    const hooks = state.webhooks.filter((h) => destination === undefined || h.destination === destination);
    if (hooks.length === 0) return void res.status(204).end();
    hal(res, 200, {
      _total_items: hooks.length,
      _links: { self: { href: `${baseOf(req)}/webhooks` } },
      _embedded: { webhooks: hooks.map((h) => renderWebhook(state, h)) },
    });
  });

  router.post(`${API}/webhooks`, (req, res) => {
    const body: unknown = req.body;
    if (!isRecord(body) || Object.keys(body).length === 0) return emptyRequest(res);
    const errors: KommoFieldError[] = [];
    const destination = typeof body.destination === "string" ? body.destination : "";
    if (!/^https?:\/\/[^\s]+$/i.test(destination)) errors.push({ code: "InvalidUrl", path: "destination", detail: "This value is not a valid URL." });
    const settings = Array.isArray(body.settings) ? body.settings : [];
    if (settings.length === 0) errors.push({ code: "NotBlank", path: "settings", detail: "This value should not be blank." });
    settings.forEach((s, i) => {
      if (!KOMMO_WEBHOOK_SETTINGS.includes(s as KommoWebhookSetting)) errors.push({ code: "NotSupportedChoice", path: `settings.${i}`, detail: "The value you selected is not a valid choice." });
    });
    if (errors.length) return validationFailed(res, [{ requestId: "0", errors }]);
    const existing = state.webhooks.find((h) => h.destination === destination);
    if (!existing && state.webhooks.length >= MAX_WEBHOOKS) return problem(res, 400, "Bad Request", `Maximum ${MAX_WEBHOOKS} webhooks per account`);
    const hook = existing ?? account.addWebhook(destination, []);
    hook.settings = [...new Set(settings as KommoWebhookSetting[])];
    hook.disabled = false; // saving a hook again is how an admin re-enables it
    hook.invalidAt = [];
    hook.updatedAt = account.nowSec();
    hal(res, 201, renderWebhook(state, hook));
  });

  router.delete(`${API}/webhooks`, (req, res) => {
    const body: unknown = req.body;
    if (!isRecord(body) || typeof body.destination !== "string") return emptyRequest(res);
    state.webhooks = state.webhooks.filter((h) => h.destination !== body.destination);
    res.status(204).end();
  });

  return router;
}
