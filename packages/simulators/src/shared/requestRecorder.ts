import type { RequestHandler } from "express";
import type { RequestLog } from "./requestLog";

/** Records each request with the status it finally got; mount it first. */
export function requestRecorder(log: RequestLog): RequestHandler {
  return (req, res, next) => {
    const at = Date.now();
    res.on("finish", () => {
      log.add({
        method: req.method,
        path: req.path,
        query: { ...(req.query as Record<string, unknown>) },
        headers: { ...req.headers },
        body: req.body,
        status: res.statusCode,
        at,
      });
    });
    next();
  };
}
