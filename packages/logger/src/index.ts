export { createLogger } from "./createLogger";
export type { Logger, LoggerOptions } from "./createLogger";
export { redactString, redactValue } from "./redact";
