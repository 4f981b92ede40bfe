export { KommoClient, kommoRetryAfterMs } from "./kommoClient";
export type { KommoClientOptions, KommoContactUpdate, KommoTaskInput } from "./kommoClient";
export { fieldValue } from "./kommoEntities";
export type { KommoContact, KommoCustomField, KommoFieldValues, KommoLead, KommoPipeline } from "./kommoEntities";
export type { KommoEvent, KommoWebhook } from "./kommoEvents";
export { KOMMO_LIMITS, KOMMO_MAX_PAGE } from "./limits";
export { decodeKommoForm, KOMMO_WEBHOOK_LIMITS, KommoFormError } from "./decodeKommoForm";
export { parseKommoWebhook } from "./parseKommoWebhook";
export type { KommoChange, KommoContactChange, KommoLeadChange } from "./parseKommoWebhook";
