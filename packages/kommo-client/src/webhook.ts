// `@funnelsync/kommo-client/webhook`: what ingest needs to read a Kommo webhook, without the API client
// (and so without axios).
export { decodeKommoForm, KOMMO_WEBHOOK_LIMITS, KommoFormError } from "./decodeKommoForm";
export { isKommoWebhookBody, parseKommoWebhook } from "./parseKommoWebhook";
export type { KommoChange, KommoContactChange, KommoLeadChange } from "./parseKommoWebhook";
export { FUNNELSYNC_WEBHOOK_SETTINGS } from "./webhookSettings";
