import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { envSchema, SECRET_VARIABLES, withoutEmpty, type Env } from "./env";
import { mappingSchema, toMapping, type Mapping } from "./mapping";

/** A bad or missing setting. The message is one line that names it and never shows a secret. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export type VendorMode = "live" | "simulator";

export interface KommoSettings {
  mode: VendorMode;
  /** Undefined in simulator mode until the embedded runner starts the simulator. */
  baseUrl: string | undefined;
  accessToken: string | undefined;
  webhookSecret: string | undefined;
  /** How often the worker reads the events feed; 0 = never. */
  reconcileSeconds: number;
  /** Register or repair our webhook when it is missing or disabled. */
  manageWebhook: boolean;
}
export interface MoosendSettings {
  mode: VendorMode;
  baseUrl: string | undefined;
  apiKey: string | undefined;
  webhookSecret: string | undefined;
  pollSeconds: number;
}
export interface LoopsSettings {
  mode: VendorMode;
  baseUrl: string | undefined;
  apiKey: string | undefined;
  webhookSecret: string | undefined;
}

export interface Config {
  databaseUrl: string;
  redisUrl: string;
  port: number;
  adminPort: number;
  admin: { user: string; password: string | undefined; readOnly: boolean };
  logLevel: Env["LOG_LEVEL"];
  mappingPath: string;
  mapping: Mapping;
  kommo: KommoSettings;
  moosend: MoosendSettings;
  loops: LoopsSettings;
  /** Days received events and outcome rows are kept; 0: kept for ever (no retention job). */
  retentionDays: number;
  /** FUNNELSYNC_HASH_KEY: keys the hashes of erased addresses; `forget` needs it. */
  hashKey: string | undefined;
  /** The public origin (no trailing slash) ingest is reached at; needed to register webhooks. */
  publicUrl: string | undefined;
  /** Every secret value, so the logger can scrub them wherever they turn up. */
  secrets: string[];
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * The embedded default (`npm start`, `npm run demo`): vendors without credentials run on the
   * simulators. Without it (production entry points), credentials are required for every vendor the
   * mapping uses.
   */
  allowSimulators?: boolean;
  /** Where a relative FUNNELSYNC_CONFIG is resolved. */
  cwd?: string;
}

function describeIssue(issue: z.core.$ZodIssue, source: string): string {
  const path = issue.path.join(".");
  return `config: ${source}${path ? ` ${path}` : ""} ${issue.message}`;
}

function envError(issue: z.core.$ZodIssue, env: Record<string, string>): ConfigError {
  const name = String(issue.path[0] ?? "environment");
  const value = env[name];
  const shown =
    value === undefined || (SECRET_VARIABLES as readonly string[]).includes(name) ? "" : ` (got ${JSON.stringify(value)})`;
  return new ConfigError(`config: ${name} ${issue.message}${shown}`);
}

function loadMapping(path: string): Mapping {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`config: FUNNELSYNC_CONFIG cannot be read (${code ?? "error"}: ${path})`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const first = String((err as Error).message).split("\n")[0];
    throw new ConfigError(`config: ${path} is not valid YAML: ${first}`);
  }
  const parsed = mappingSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeIssue(parsed.error.issues[0]!, path));
  return toMapping(parsed.data);
}

function vendorMode(name: string, hasCredential: boolean, needed: boolean, allowSimulators: boolean): VendorMode {
  if (hasCredential) return "live";
  if (allowSimulators) return "simulator";
  if (needed) throw new ConfigError(`config: ${name} is required (or run \`npm start\` to use the local simulators)`);
  return "simulator";
}

/** Parses and validates the environment and the mapping file, once, at start-up. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = withoutEmpty(options.env ?? process.env);
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw envError(parsed.error.issues[0]!, env);
  const e = parsed.data;

  const mappingPath = resolve(options.cwd ?? process.cwd(), e.FUNNELSYNC_CONFIG);
  const mapping = loadMapping(mappingPath);
  const allowSimulators = options.allowSimulators ?? false;

  const kommoMode = vendorMode("KOMMO_ACCESS_TOKEN", Boolean(e.KOMMO_ACCESS_TOKEN), true, allowSimulators);
  const moosendMode = vendorMode("MOOSEND_API_KEY", Boolean(e.MOOSEND_API_KEY), mapping.usesMoosend(), allowSimulators);
  const loopsMode = vendorMode("LOOPS_API_KEY", Boolean(e.LOOPS_API_KEY), mapping.usesLoops(), allowSimulators);

  const requireWith = (mode: VendorMode, name: string, value: string | undefined, because: string) => {
    if (mode === "live" && !value) throw new ConfigError(`config: ${name} is required when ${because} is set`);
  };
  requireWith(kommoMode, "KOMMO_BASE_URL", e.KOMMO_BASE_URL, "KOMMO_ACCESS_TOKEN");
  requireWith(kommoMode, "KOMMO_WEBHOOK_SECRET", e.KOMMO_WEBHOOK_SECRET, "KOMMO_ACCESS_TOKEN");
  requireWith(loopsMode, "LOOPS_WEBHOOK_SECRET", e.LOOPS_WEBHOOK_SECRET, "LOOPS_API_KEY");
  requireWith(moosendMode, "MOOSEND_WEBHOOK_SECRET", e.MOOSEND_WEBHOOK_SECRET, "MOOSEND_API_KEY");
  if (e.KOMMO_MANAGE_WEBHOOK && kommoMode === "live" && !e.PUBLIC_URL) throw new ConfigError("config: PUBLIC_URL is required when KOMMO_MANAGE_WEBHOOK is true");

  const config: Config = {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    port: e.PORT,
    adminPort: e.ADMIN_PORT,
    admin: { user: e.ADMIN_USER, password: e.ADMIN_PASSWORD, readOnly: e.ADMIN_READ_ONLY },
    logLevel: e.LOG_LEVEL,
    mappingPath,
    mapping,
    kommo: {
      mode: kommoMode,
      baseUrl: kommoMode === "live" ? e.KOMMO_BASE_URL : undefined,
      accessToken: e.KOMMO_ACCESS_TOKEN,
      webhookSecret: e.KOMMO_WEBHOOK_SECRET,
      reconcileSeconds: e.KOMMO_RECONCILE_SECONDS,
      manageWebhook: e.KOMMO_MANAGE_WEBHOOK,
    },
    publicUrl: e.PUBLIC_URL,
    moosend: {
      mode: moosendMode,
      baseUrl: moosendMode === "live" ? (e.MOOSEND_BASE_URL ?? "https://api.moosend.com/v3") : undefined,
      apiKey: e.MOOSEND_API_KEY,
      webhookSecret: e.MOOSEND_WEBHOOK_SECRET,
      pollSeconds: e.MOOSEND_POLL_SECONDS,
    },
    loops: {
      mode: loopsMode,
      baseUrl: loopsMode === "live" ? (e.LOOPS_BASE_URL ?? "https://app.loops.so/api/v1") : undefined,
      apiKey: e.LOOPS_API_KEY,
      webhookSecret: e.LOOPS_WEBHOOK_SECRET,
    },
    retentionDays: e.RETENTION_DAYS,
    hashKey: e.FUNNELSYNC_HASH_KEY,
    secrets: [],
  };
  config.secrets = collectSecrets(config);
  return config;
}

/** What a command that only reads our records needs: the database, and the key erased addresses are hashed with. */
export interface RecordsConfig {
  databaseUrl: string;
  hashKey: string | undefined;
}

/**
 * The settings of the read-only commands (`history`, `consent`): DATABASE_URL (and
 * FUNNELSYNC_HASH_KEY when set), without the mapping file or any vendor's credentials.
 */
export function loadRecordsConfig(options: Pick<LoadConfigOptions, "env"> = {}): RecordsConfig {
  const env = withoutEmpty(options.env ?? process.env);
  const parsed = envSchema.pick({ DATABASE_URL: true, FUNNELSYNC_HASH_KEY: true }).safeParse(env);
  if (!parsed.success) throw envError(parsed.error.issues[0]!, env);
  return { databaseUrl: parsed.data.DATABASE_URL, hashKey: parsed.data.FUNNELSYNC_HASH_KEY };
}

export function collectSecrets(config: Config): string[] {
  return [
    config.admin.password,
    config.kommo.accessToken,
    config.kommo.webhookSecret,
    config.moosend.apiKey,
    config.moosend.webhookSecret,
    config.loops.apiKey,
    config.loops.webhookSecret,
    config.hashKey,
  ].filter((s): s is string => Boolean(s));
}
