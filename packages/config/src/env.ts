import { z } from "zod";

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    }, `must be a ${protocols.map((p) => p.replace(":", "")).join(" or ")} URL`);

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** A vendor API: https, except on this machine (the simulators, a local tunnel). */
const vendorUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname));
    } catch {
      return false;
    }
  }, "must be an https URL");

/** `z.coerce.boolean("false")` is true, so booleans are read by hand: true/false, 1/0, yes/no. */
const flag = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ["true", "false", "1", "0", "yes", "no"].includes(v), "must be true or false")
  .transform((v) => ["true", "1", "yes"].includes(v));

const port = z.coerce.number().int().min(0).max(65_535);
const optionalSecret = z.string().trim().min(1).optional();

/** Empty strings in an env file mean "not set", as users expect from `FOO=` lines. */
export function withoutEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === "string" && e[1].trim() !== ""));
}

/** Every variable funnelsync reads, each with why it exists. `.env.example` mirrors this list. */
export const envSchema = z.object({
  /** Postgres holds outcomes, consent and identity links: the record of what was synced. */
  DATABASE_URL: url(["postgresql:", "postgres:"]).default("postgresql://postgres@127.0.0.1:5432/funnelsync"),
  /** Redis holds the BullMQ queues and the rate-limit windows shared by every worker process. */
  REDIS_URL: url(["redis:", "rediss:"]).default("redis://127.0.0.1:6379"),
  /** Ingest's public port, behind the reverse proxy. */
  PORT: port.default(3000),
  /** The worker's private port: dashboard, health and metrics. Never exposed publicly. */
  ADMIN_PORT: port.default(3001),
  /** Basic auth for the dashboard; without a password the dashboard refuses to serve. */
  ADMIN_USER: z.string().trim().min(1).default("admin"),
  ADMIN_PASSWORD: z.string().min(12, "must be at least 12 characters").optional(),
  /** A dashboard that shows jobs but cannot retry, promote or remove them (for a shared screen). */
  ADMIN_READ_ONLY: flag.default(false),
  /** The mapping file: which stage goes to which list and event, which fields are copied. */
  FUNNELSYNC_CONFIG: z.string().trim().default("./funnelsync.yaml"),
  /** The Kommo account host, e.g. https://acme.kommo.com (the API lives under /api/v4). */
  KOMMO_BASE_URL: vendorUrl.optional(),
  /** A long-lived token of a private integration; without one, the embedded simulator stands in. */
  KOMMO_ACCESS_TOKEN: optionalSecret,
  /** Kommo webhooks are unsigned: a secret path segment is the only proof a call came from our hook. */
  KOMMO_WEBHOOK_SECRET: z.string().trim().min(16, "must be at least 16 characters").optional(),
  /** Reading Kommo's events feed catches the changes whose webhook never came. 0 turns it off. */
  KOMMO_RECONCILE_SECONDS: z.coerce.number().int().min(0).default(300),
  /** true: the worker registers or repairs its Kommo webhook itself when it is missing or disabled. */
  KOMMO_MANAGE_WEBHOOK: flag.default(false),
  /** The public origin the webhooks are served at (Caddy's); the Kommo webhook is registered under it. */
  PUBLIC_URL: url(["https:", "http:"])
    .refine((value) => new URL(value).pathname.replace(/\/+$/, "") === "", "must be an origin (no path), e.g. https://sync.example.com")
    .transform((value) => value.replace(/\/+$/, ""))
    .optional(),
  MOOSEND_BASE_URL: vendorUrl.optional(),
  /** Moosend takes the key as a query parameter, so it is redacted from every logged URL. */
  MOOSEND_API_KEY: optionalSecret,
  /** Moosend automation webhooks are unsigned too: secret path segment. */
  MOOSEND_WEBHOOK_SECRET: z.string().trim().min(16, "must be at least 16 characters").optional(),
  /** Polling catches unsubscribes and bounces that no automation step reported. 0 turns it off. */
  MOOSEND_POLL_SECONDS: z.coerce.number().int().min(0).default(300),
  LOOPS_BASE_URL: vendorUrl.optional(),
  LOOPS_API_KEY: optionalSecret,
  /** Loops signs webhooks per Standard Webhooks with this `whsec_…` secret. */
  LOOPS_WEBHOOK_SECRET: z.string().trim().regex(/^whsec_[A-Za-z0-9+/=]+$/, "must be a whsec_… secret").optional(),
  /** Received events and outcome rows hold e-mail addresses: they are deleted after this many days. 0 keeps them. */
  RETENTION_DAYS: z.coerce.number().int("must be a whole number of days").min(0, "must be 0 or more days").max(36_500, "must be at most 36500 days").default(90),
  /**
   * Keys the hash that an erased address's suppression keeps (`forget`). Secret, because with it an
   * address can be tested against the suppressions; never change it once something was erased.
   */
  FUNNELSYNC_HASH_KEY: z.string().trim().min(32, "must be at least 32 characters (e.g. `openssl rand -hex 32`)").optional(),
  LOG_LEVEL: z.enum(["error", "warn", "info", "http", "verbose", "debug", "silly"]).default("info"),
});

export type Env = z.infer<typeof envSchema>;

/** Which variables hold secrets: their values never appear in an error message or a log line. */
export const SECRET_VARIABLES = [
  "ADMIN_PASSWORD",
  "KOMMO_ACCESS_TOKEN",
  "KOMMO_WEBHOOK_SECRET",
  "MOOSEND_API_KEY",
  "MOOSEND_WEBHOOK_SECRET",
  "LOOPS_API_KEY",
  "LOOPS_WEBHOOK_SECRET",
  "FUNNELSYNC_HASH_KEY",
] as const;
