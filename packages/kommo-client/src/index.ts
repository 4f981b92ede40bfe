export { KommoClient, kommoRetryAfterMs } from "./kommoClient";
export type { KommoClientOptions, KommoContactUpdate, KommoTaskInput } from "./kommoClient";
export { fieldValue } from "./kommoEntities";
export type { KommoContact, KommoCustomField, KommoFieldValues, KommoLead, KommoPipeline } from "./kommoEntities";
export { KOMMO_LIMITS, KOMMO_MAX_PAGE } from "./limits";
export { KOMMO_WEBHOOK_BODY_OPTIONS, parseKommoWebhook } from "./parseKommoWebhook";
export type { KommoChange, KommoContactChange, KommoLeadChange } from "./parseKommoWebhook";
