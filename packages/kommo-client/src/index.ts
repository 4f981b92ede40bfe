export { KommoClient, kommoRetryAfterMs } from "./kommoClient";
export type { KommoClientOptions, KommoContactUpdate, KommoTaskInput } from "./kommoClient";
export { fieldValue, preferredEmail } from "./kommoEntities";
export type { KommoContact, KommoCustomField, KommoEmailValue, KommoFieldValues, KommoLead, KommoPipeline } from "./kommoEntities";
export { KOMMO_LIMITS, KOMMO_MAX_PAGE } from "./limits";
export { decodeKommoForm, KOMMO_WEBHOOK_LIMITS, KommoFormError } from "./decodeKommoForm";
export { isKommoWebhookBody, parseKommoWebhook } from "./parseKommoWebhook";
export type { KommoChange, KommoContactChange, KommoLeadChange } from "./parseKommoWebhook";
