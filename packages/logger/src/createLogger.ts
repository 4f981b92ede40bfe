import winston from "winston";
import { redactString, redactValue, REDACTED, SECRET_KEY } from "./redact";

export type Logger = winston.Logger;

export interface LoggerOptions {
  level?: string;
  /** The process or component, bound to every line. */
  service: string;
  /** Secret values to scrub wherever they appear (config.secrets). */
  secrets?: readonly string[];
  /** Where lines go; defaults to stdout. Tests pass a stream to read them back. */
  stream?: NodeJS.WritableStream;
}

/** One JSON line per entry, with every field and message passed through redaction. */
export function createLogger(options: LoggerOptions): Logger {
  const secrets = options.secrets ?? [];
  const redaction = winston.format((info) => {
    for (const key of Object.keys(info)) {
      if (key === "level") continue;
      info[key] = SECRET_KEY.test(key) ? REDACTED : redactValue(info[key], secrets);
    }
    if (typeof info.message === "string") info.message = redactString(info.message, secrets);
    return info;
  });
  // Winston runs a logger's formats even for entries below its level; drop those first, so a quiet
  // level costs nothing on the hot path (one access line per webhook).
  const level = options.level ?? "info";
  const levels = winston.config.npm.levels;
  const enabled = winston.format((info) => ((levels[info.level] ?? 0) <= (levels[level] ?? 2) ? info : false));
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  const logger = winston.createLogger({
    level,
    defaultMeta: { service: options.service },
    format: winston.format.combine(enabled(), winston.format.timestamp(), redaction(), winston.format.json()),
    transports: [transport],
  });
  // Even so, winston builds the entry and pushes it through its streams before any format sees it:
  // a debug line per webhook cost ingest a sixth of its throughput. `log(level, …)` (what
  // `logger.debug(message, meta)` calls) returns at once below the level. Not bound, so a child
  // logger still writes through its own `write`, which adds its fields.
  const winstonLog = logger.log;
  logger.log = function (this: Logger, ...args: unknown[]) {
    if (typeof args[0] === "string" && !this.isLevelEnabled(args[0])) return this;
    return (winstonLog as (...a: unknown[]) => Logger).apply(this, args);
  } as unknown as winston.LogMethod;
  return logger;
}
