import { resolve } from "node:path";
import type { Figure } from "./report";
import { BENCH_DATABASE_URL, BENCH_REDIS_URL } from "./services";

export interface ScenarioContext {
  /** Smaller sizes and shorter phases, so the whole bench can be smoke-tested in a few minutes. */
  quick: boolean;
  /** Where the child processes' logs go (gitignored). */
  logDir: string;
  /** Aborted when the scenario overruns its hard limit: loops stop and the run moves on. */
  signal: AbortSignal;
  /** Registers a cleanup step (stop a child, close the simulators); run last-in first-out, always. */
  defer(step: () => Promise<unknown>): void;
  /** Runs the cleanup steps registered so far, now (between the parts of a scenario). */
  flush(): Promise<void>;
  /** A progress line on stderr (the table goes to stdout). */
  progress(message: string): void;
}

export interface ScenarioResult {
  figures: Figure[];
  /** Everything else worth keeping in the JSON: raw summaries, counts, formulas, parameters. */
  details: Record<string, unknown>;
}

export interface Scenario {
  name: "ingest" | "e2e" | "burst" | "burst2" | "burst4" | "backfill" | "poll" | "retention" | "reconcile" | "campaign";
  describe: string;
  /** After this long the scenario is abandoned and reported as failed (its own phases are capped shorter). */
  hardLimitMs(quick: boolean): number;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

export const MAPPINGS = {
  /** The contract's example mapping: Moosend lists and Loops events. */
  full: resolve(__dirname, "..", "..", "funnelsync.yaml"),
  /** Moosend only, so a stage change involves Kommo and Moosend alone. */
  moosendOnly: resolve(__dirname, "..", "moosend-only.yaml"),
} as const;

export const LISTS = {
  newLead: "0b6f5a1e-0000-4000-8000-000000000001",
  nurture: "0b6f5a1e-0000-4000-8000-000000000002",
} as const;

/** What every app process gets besides the vendors: the bench's own database and Redis DB. */
export function appEnv(vendorEnv: Record<string, string>, mappingPath: string): Record<string, string> {
  return {
    DATABASE_URL: BENCH_DATABASE_URL,
    REDIS_URL: BENCH_REDIS_URL,
    FUNNELSYNC_CONFIG: mappingPath,
    // As deployed: one JSON line per webhook answered and per job is part of what the apps cost.
    // BENCH_LOG_LEVEL=warn measures the apps without it.
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
    ...vendorEnv,
  };
}

export function abortable(signal: AbortSignal): void {
  if (signal.aborted) throw new Error("scenario abandoned: hard time limit reached");
}
