export { ConfigError, collectSecrets, loadConfig, loadRecordsConfig } from "./loadConfig";
export type { Config, KommoSettings, LoadConfigOptions, LoopsSettings, MoosendSettings, RecordsConfig, VendorMode } from "./loadConfig";
export { envSchema, SECRET_VARIABLES } from "./env";
export type { EngagementMapping, FieldMapping, LoopsEventMapping, Mapping, StageMapping } from "./mapping";
export { normalizeEmail } from "./email";
