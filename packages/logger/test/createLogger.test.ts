import { PassThrough } from "node:stream";
import { createLogger } from "@funnelsync/logger";

function capture(secrets: string[] = [], level?: string) {
  const stream = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  stream.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
  });
  return { logger: createLogger({ service: "test", secrets, stream, level }), lines };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("createLogger", () => {
  it("writes one JSON line per entry with the service and the fields", async () => {
    const { logger, lines } = capture();
    logger.child({ jobId: "kommo-lead-1-added" }).info("worker.job: done", { ms: 12 });
    await flush();
    expect(lines).toEqual([expect.objectContaining({ level: "info", message: "worker.job: done", service: "test", jobId: "kommo-lead-1-added", ms: 12 })]);
  });

  it("masks secret-named fields at any depth", async () => {
    const { logger, lines } = capture();
    logger.info("vendor.call", { headers: { Authorization: "Bearer abc", accept: "json" }, apiKey: "k", nested: { webhookSecret: "s" } });
    await flush();
    expect(lines[0]).toMatchObject({ headers: { Authorization: "[redacted]", accept: "json" }, apiKey: "[redacted]", nested: { webhookSecret: "[redacted]" } });
  });

  it("scrubs known secret values, API keys in query strings and secret webhook paths from any string", async () => {
    const { logger, lines } = capture(["s3cr3t-token-value"]);
    logger.warn("failed with s3cr3t-token-value", {
      url: "https://api.moosend.com/v3/lists.json?apikey=0000-1111&Page=1",
      route: "/webhooks/kommo/abcdef0123456789",
      error: new Error("token s3cr3t-token-value rejected"),
    });
    await flush();
    const line = JSON.stringify(lines[0]);
    expect(line).not.toContain("s3cr3t-token-value");
    expect(line).not.toContain("0000-1111");
    expect(line).not.toContain("abcdef0123456789");
    expect(lines[0]).toMatchObject({ url: "https://api.moosend.com/v3/lists.json?apikey=[redacted]&Page=1", route: "/webhooks/kommo/[redacted]" });
  });

  it("drops entries below its level, whichever way they are logged, and a child keeps its fields", async () => {
    const quiet = capture([], "info");
    quiet.logger.debug("ingest.request: answered", { status: 200 });
    quiet.logger.log("debug", "ingest.request: answered", { status: 200 });
    quiet.logger.child({ jobId: "j1" }).debug("worker.job: done", { ms: 1 });
    quiet.logger.info("kept", { n: 1 });
    const verbose = capture([], "debug");
    verbose.logger.child({ jobId: "j2" }).debug("worker.job: done", { ms: 2 });
    verbose.logger.log("debug", "worker.job: done", { ms: 3 });
    await flush();
    expect(quiet.lines).toEqual([expect.objectContaining({ level: "info", message: "kept", n: 1 })]);
    expect(verbose.lines).toEqual([
      expect.objectContaining({ level: "debug", jobId: "j2", ms: 2 }),
      expect.objectContaining({ level: "debug", ms: 3 }),
    ]);
  });
});
