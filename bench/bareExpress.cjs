const express = require("express");

/**
 * Ingest's throughput references, each its own process run with plain node like ingest's bundle.
 * PARSE_BODY=1 (the target's reference): Express reads and parses the same form body with
 * `express.urlencoded({ extended: true })` (qs, which reads Kommo's bracket keys as the nested
 * structure a receiver acts on) before answering 200, the least any Kommo webhook receiver does. Without it:
 * Express answers 200 without reading the body (no parsing, auth, Redis or logging), an upper bound
 * no real receiver reaches.
 */
const app = express();
const parseBody = process.env.PARSE_BODY === "1" ? [express.urlencoded({ extended: true, limit: "1mb" })] : [];
app.post("/webhooks/kommo/:secret", ...parseBody, (_req, res) => {
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
