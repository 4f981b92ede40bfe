const express = require("express");

/**
 * The throughput reference for ingest, run as its own process with plain node like ingest's bundle:
 * Express answering 200 to the same POST, with nothing else (no body parsing, no auth, no Redis, no
 * logging). Ingest's ratio to it is what authenticating, parsing, enqueuing and logging cost.
 * With READ_BODY=1 it first reads the body as text (`express.text`), as any receiver of a webhook
 * must: the part of the gap that is not ingest's own work.
 */
const app = express();
const readBody = process.env.READ_BODY === "1" ? [express.text({ type: () => true, limit: "1mb" })] : [];
app.post("/webhooks/kommo/:secret", ...readBody, (_req, res) => {
  res.sendStatus(200);
});
app.get("/readyz", (_req, res) => {
  res.sendStatus(200);
});
const port = Number(process.env.PORT ?? 0);
const server = app.listen(port, "127.0.0.1");
server.keepAliveTimeout = 65_000;
process.once("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
