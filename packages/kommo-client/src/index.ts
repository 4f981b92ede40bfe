export { KommoClient, kommoRetryAfterMs } from "./kommoClient";
export type { KommoClientOptions, KommoContactUpdate, KommoTaskInput } from "./kommoClient";
export { fieldValue, preferredEmail } from "./kommoEntities";
export type { KommoContact, KommoCustomField, KommoEmailValue, KommoFieldValues, KommoLead, KommoPipeline } from "./kommoEntities";
export type { KommoEvent, KommoWebhook } from "./kommoEvents";
export { assessKommoWebhook, installKommoWebhook, kommoWebhookPath, maskedDestination } from "./webhookHealth";
export type { KommoWebhookAssessment, KommoWebhookState } from "./webhookHealth";
export { KOMMO_LIMITS, KOMMO_MAX_PAGE } from "./limits";
export * from "./webhook";
