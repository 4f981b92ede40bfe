import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { Config } from "@funnelsync/config";
import { createRedisConnection, KEY_PREFIX, redisAnswers } from "@funnelsync/jobs";
import type { Logger } from "@funnelsync/logger";
import { createApp } from "./app";
import { createEnqueuer } from "./enqueuer";
import { createIngestMetrics } from "./metrics";

export interface RunningIngest {
  url: string;
  /** Stops accepting, lets in-flight requests finish, then closes the queues and Redis. */
  close(): Promise<void>;
}

export async function startIngest(options: {
  config: Pick<Config, "redisUrl" | "port"> & { kommo: { webhookSecret?: string }; moosend: { webhookSecret?: string }; loops: { webhookSecret?: string } };
  logger: Logger;
  /** BullMQ key prefix; tests isolate themselves with a unique one. */
  prefix?: string;
  port?: number;
  host?: string;
}): Promise<RunningIngest> {
  const { config, logger } = options;
  const redis = createRedisConnection(config.redisUrl, "ingest");
  redis.on("error", () => undefined); // ioredis reconnects by itself; /readyz and the 503s report the outage
  // Without an offline queue, commands sent before the connection is up fail: wait for it, briefly.
  // If Redis is down at start, ingest still starts and answers 503 until it returns.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5_000);
    redis.once("ready", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const enqueuer = createEnqueuer(redis, { prefix: options.prefix ?? KEY_PREFIX });
  let draining = false;
  const app = createApp({
    enqueuer,
    logger,
    metrics: createIngestMetrics(),
    secrets: { kommo: config.kommo.webhookSecret, moosend: config.moosend.webhookSecret, loops: config.loops.webhookSecret },
    isReady: async () => !draining && (await redisAnswers(redis)),
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(options.port ?? config.port, options.host ?? "0.0.0.0", () => resolve(s));
    s.once("error", reject);
  });
  // Kommo drops a delivery after 2 s; a keep-alive socket must outlive the proxy's idle timeout.
  server.keepAliveTimeout = 65_000;
  // Trickling senders: the routes cut a body off after 10 s; these bound the headers and the whole request.
  server.headersTimeout = 10_000;
  server.requestTimeout = 20_000;
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      (closing ??= (async () => {
        draining = true;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await enqueuer.close();
        await redis.quit().catch(() => redis.disconnect());
      })()),
  };
}
