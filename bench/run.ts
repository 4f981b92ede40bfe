import { mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { REPO_ROOT, buildApps } from "./lib/apps";
import { machineFacts } from "./lib/machine";
import { figure, formatTable, writeResults, type Figure } from "./lib/report";
import type { Scenario, ScenarioContext } from "./lib/scenario";
import { prepareDatabase } from "./lib/services";
import { VENDOR_LATENCY_MS } from "./lib/vendors";
import { backfillScenario } from "./scenarios/backfill";
import { burst2Scenario, burst4Scenario, burstScenario } from "./scenarios/burst";
import { campaignScenario } from "./scenarios/campaign";
import { e2eScenario } from "./scenarios/e2e";
import { ingestScenario } from "./scenarios/ingest";
import { pollScenario } from "./scenarios/poll";
import { reconcileScenario } from "./scenarios/reconcile";
import { retentionScenario } from "./scenarios/retention";

const SCENARIOS: Scenario[] = [
  ingestScenario,
  e2eScenario,
  burstScenario,
  burst2Scenario,
  burst4Scenario,
  backfillScenario,
  pollScenario,
  retentionScenario,
  reconcileScenario,
  campaignScenario,
];
const RESULTS_DIR = resolve(__dirname, "results");

const USAGE = `usage: npm run bench -- [${SCENARIOS.map((s) => s.name).join("] [")}] [--quick]
  ${SCENARIOS.map((s) => `${s.name.padEnd(9)} ${s.describe}`).join("\n  ")}
  --quick  smaller burst (1,000), backfill (10,000) and shorter phases: a smoke test
Every figure is a ratio or measured in the same run as its reference. Targets are reported, not asserted.`;

function parseArgs(argv: string[]): { quick: boolean; scenarios: Scenario[] } {
  const quick = argv.includes("--quick");
  const names = argv.filter((a) => a !== "--quick");
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    process.exit(0);
  }
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) {
    console.error(`bench: unknown scenario or option ${unknown.map((u) => JSON.stringify(u)).join(", ")}\n${USAGE}`);
    process.exit(2);
  }
  return { quick, scenarios: names.length ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS };
}

const progress = (message: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** Runs one scenario under its hard limit; its cleanup steps always run, newest first. */
async function runScenario(scenario: Scenario, quick: boolean, logDir: string) {
  const cleanups: Array<() => Promise<unknown>> = [];
  const flush = async () => {
    for (let step = cleanups.pop(); step; step = cleanups.pop()) {
      await step().catch((err: Error) => progress(`${scenario.name}: cleanup failed: ${err.message}`));
    }
  };
  const controller = new AbortController();
  const ctx: ScenarioContext = {
    quick,
    logDir: join(logDir, scenario.name),
    signal: controller.signal,
    defer: (step) => void cleanups.push(step),
    flush,
    progress,
  };
  mkdirSync(ctx.logDir, { recursive: true });
  const limitMs = scenario.hardLimitMs(quick);
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  try {
    const overrun = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`did not finish within its hard limit of ${limitMs / 60_000} min`));
      }, limitMs);
    });
    const result = await Promise.race([scenario.run(ctx), overrun]);
    return { ...result, seconds: (Date.now() - started) / 1000, error: undefined };
  } catch (err) {
    const message = (err as Error).message.split("\n")[0]!;
    progress(`${scenario.name}: FAILED: ${(err as Error).stack ?? message}`);
    const row = figure(scenario.name, "scenario", null, "", { shown: `error: ${message}`, target: { text: "completes", met: false } });
    return { figures: [row], details: { error: String((err as Error).stack ?? err) }, seconds: (Date.now() - started) / 1000, error: message };
  } finally {
    clearTimeout(timer);
    controller.abort();
    await flush();
  }
}

async function main(): Promise<void> {
  const { quick, scenarios } = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const machine = machineFacts();
  const logDir = join(RESULTS_DIR, `${startedAt.toISOString().replace(/:/g, "-")}-logs`);
  progress(`${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGb} GB, node ${machine.node}; scenarios ${scenarios.map((s) => s.name).join(", ")}${quick ? " (quick)" : ""}`);
  progress("preparing the bench database (drop, create, migrate) and Redis DB");
  await prepareDatabase();
  buildApps();

  const figures: Figure[] = [];
  const results: Record<string, unknown> = {};
  let failed = false;
  for (const scenario of scenarios) {
    progress(`${scenario.name}: start`);
    const result = await runScenario(scenario, quick, logDir);
    figures.push(...result.figures);
    results[scenario.name] = { seconds: Math.round(result.seconds), ...result.details };
    failed ||= result.error !== undefined;
    progress(`${scenario.name}: done in ${Math.round(result.seconds)} s`);
  }

  console.log(`\nfunnelsync bench${quick ? " (quick)" : ""}: ${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}; vendors simulated with ${VENDOR_LATENCY_MS} ms latency\n`);
  console.log(formatTable(figures));
  const path = writeResults(RESULTS_DIR, startedAt, {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: { quick, scenarios: scenarios.map((s) => s.name), vendorLatencyMs: VENDOR_LATENCY_MS },
    machine,
    figures,
    scenarios: results,
  });
  console.log(`\nresults: ${relative(REPO_ROOT, path)}\nlogs:    ${relative(REPO_ROOT, logDir)}/`);
  process.exit(failed ? 1 : 0);
}

// Ctrl-C: exit through process.exit, so the child processes are killed on the way out.
process.once("SIGINT", () => process.exit(130));
process.once("SIGTERM", () => process.exit(143));

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
