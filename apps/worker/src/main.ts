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
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
