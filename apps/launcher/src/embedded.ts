import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { collectSecrets, ConfigError, loadConfig } from "@funnelsync/config";
import { startIngest } from "@funnelsync/ingest";
import { onShutdown, type ShutdownStep } from "@funnelsync/jobs";
import { createLogger } from "@funnelsync/logger";
import { FUNNELSYNC_WEBHOOK_SETTINGS } from "@funnelsync/kommo-client/webhook";
import { startWorker } from "@funnelsync/worker";
import { runDemo } from "./demo";
import { startSimulators } from "./simulators";

const REPO_ROOT = resolve(__dirname, "../../..");

/**
 * `npm start` and `npm run demo`: migrations, then ingest and worker in one process. Every vendor
 * without credentials runs on its local simulator, wired to call our webhooks as the real one would.
 */
async function main(): Promise<void> {
  const demo = process.argv.includes("--demo");
  const config = loadConfig({ allowSimulators: true });
  const notes: string[] = [];
  const shutdown: ShutdownStep[] = [];

  execFileSync(process.execPath, [resolve(REPO_ROOT, "prisma/engine/prismaCli.mjs"), "migrate", "deploy"], {
    env: { ...process.env, DATABASE_URL: config.databaseUrl },
    stdio: ["ignore", "ignore", "inherit"],
  });

  config.kommo.webhookSecret ??= randomBytes(16).toString("hex");
  config.moosend.webhookSecret ??= randomBytes(16).toString("hex");
  config.loops.webhookSecret ??= `whsec_${randomBytes(24).toString("base64")}`;
  const generatedPassword = config.admin.password ? undefined : randomBytes(12).toString("base64url");
  config.admin.password ??= generatedPassword;

  const ingestUrl = `http://127.0.0.1:${config.port}`;
  const sims = await startSimulators(config, ingestUrl, notes, shutdown);
  config.secrets = collectSecrets(config);
  const logger = createLogger({ service: "funnelsync", level: config.logLevel, secrets: config.secrets });

  // The demo keeps its queues apart from `npm start`'s, so leftovers of an earlier run never mix in.
  const prefix = demo ? "funnelsync-demo" : undefined;
  sims.kommo?.addWebhook(`${ingestUrl}/webhooks/kommo/${config.kommo.webhookSecret}`, [...FUNNELSYNC_WEBHOOK_SETTINGS]);
  const ingest = await startIngest({ config, logger, prefix });
  const worker = await startWorker({ config, logger, prefix });
  shutdown.unshift({ name: "ingest", close: ingest.close }, { name: "worker", close: worker.close });

  // Printed once, to the terminal, on purpose: these are local, generated values the operator needs.
  console.log(
    [
      notes.length ? `funnelsync: embedded default, ${notes.join(", ")} on local simulators (no credentials set)` : "funnelsync: live vendors",
      `  ingest      ${ingestUrl}`,
      `  Kommo hook  ${ingestUrl}/webhooks/kommo/${config.kommo.webhookSecret}`,
      `  Moosend hook ${ingestUrl}/webhooks/moosend/${config.moosend.webhookSecret}`,
      `  Loops hook  ${ingestUrl}/webhooks/loops`,
      `  dashboard   http://127.0.0.1:${config.adminPort}/admin/queues  user ${config.admin.user}${generatedPassword ? ` password ${generatedPassword}` : ""}`,
      ...Object.entries(sims).map(([name, sim]) => `  ${name} simulator ${sim.url}`),
    ].join("\n"),
  );
  onShutdown(logger, shutdown);
  if (demo) await runDemo({ config, worker, sims, logger });
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
