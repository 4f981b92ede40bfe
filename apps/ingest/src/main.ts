import { ConfigError, loadConfig } from "@funnelsync/config";
import { createLogger } from "@funnelsync/logger";
import { onShutdown } from "@funnelsync/jobs";
import { startIngest } from "./startIngest";

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: "ingest", level: config.logLevel, secrets: config.secrets });
  const ingest = await startIngest({ config, logger });
  logger.info("ingest.start: listening", { port: config.port, routes: ["/webhooks/kommo/:secret", "/webhooks/moosend/:secret", "/webhooks/loops"] });
  onShutdown(logger, [{ name: "ingest", close: ingest.close }]);
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
