import type { Logger } from "winston";

export interface ShutdownStep {
  name: string;
  close: () => Promise<void>;
}

/** Below Docker's default 30 s grace period, so we exit on our own terms. */
export const SHUTDOWN_DEADLINE_MS = 25_000;

/**
 * Handles SIGTERM and SIGINT once: runs every step in order, each even if an earlier one failed,
 * under a deadline; exits 0 when all closed cleanly, 1 otherwise or when the deadline fires.
 */
export function onShutdown(logger: Logger, steps: ShutdownStep[], deadlineMs = SHUTDOWN_DEADLINE_MS): void {
  let started = false;
  const shutdown = async (signal: string) => {
    if (started) return;
    started = true;
    logger.info("shutdown.start: draining", { signal });
    const deadline = setTimeout(() => {
      logger.error("shutdown.deadline: steps still running, exiting", { deadlineMs });
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    let failed = false;
    for (const step of steps) {
      try {
        await step.close();
      } catch (error) {
        failed = true;
        logger.error("shutdown.step: failed", { step: step.name, error });
      }
    }
    logger.info("shutdown.done: closed", { failed });
    process.exit(failed ? 1 : 0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}
