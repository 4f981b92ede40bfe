import { ConfigError, loadConfig } from "@funnelsync/config";
import { onShutdown } from "@funnelsync/jobs";
import { createLogger } from "@funnelsync/logger";
import { startWorker } from "./startWorker";

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: "worker", level: config.logLevel, secrets: config.secrets });
  const worker = await startWorker({ config, logger });
  logger.info("worker.start: consuming", { adminPort: config.adminPort, dashboard: config.admin.password ? "/admin/queues" : "off (no ADMIN_PASSWORD)" });
  onShutdown(logger, [{ name: "worker", close: worker.close }]);
}

main().catch((err) => {
  // A bad setting, or suppressions this key cannot read: one line that says what to fix.
  if (err instanceof ConfigError) console.error(err.message);
  else if ((err as Error)?.name === "SuppressionKeyError") console.error(`worker: ${(err as Error).message}`);
  else console.error(err);
  process.exit(1);
});
