import type { RequestHandler, Response } from "express";

/**
 * Faults a test, the demo or a benchmark can inject: latency on every request, and the next N
 * requests failing with a status, answering the vendor's real 429, never answering (a timeout
 * for the caller), or doing the work and losing the answer (the caller sees an error for a write that
 * happened). `match` narrows a fault to some requests (e.g. one path).
 */
export class Faults {
  latencyMs = 0;
  private queue: Array<{ kind: "status"; status: number } | { kind: "rateLimit" } | { kind: "hang" } | { kind: "lostAnswer"; status: number }> = [];
  private match: (method: string, path: string) => boolean = () => true;

  failNext(count: number, status = 500): this {
    for (let i = 0; i < count; i++) this.queue.push({ kind: "status", status });
    return this;
  }

  rateLimitNext(count: number): this {
    for (let i = 0; i < count; i++) this.queue.push({ kind: "rateLimit" });
    return this;
  }

  hangNext(count: number): this {
    for (let i = 0; i < count; i++) this.queue.push({ kind: "hang" });
    return this;
  }

  /** The next N requests are carried out, and then answered with `status` instead of their answer. */
  loseAnswerNext(count: number, status = 504): this {
    for (let i = 0; i < count; i++) this.queue.push({ kind: "lostAnswer", status });
    return this;
  }

  only(match: (method: string, path: string) => boolean): this {
    this.match = match;
    return this;
  }

  clear(): void {
    this.queue = [];
    this.latencyMs = 0;
    this.match = () => true;
  }

  get pending(): number {
    return this.queue.length;
  }

  /**
   * Express middleware. `answer429` writes the vendor's own throttling answer; `answerError` its own
   * error envelope for a status.
   */
  middleware(answer429: (res: Response) => void, answerError: (res: Response, status: number) => void): RequestHandler {
    return async (req, res, next) => {
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      if (this.queue.length === 0 || !this.match(req.method, req.path)) return next();
      const fault = this.queue.shift()!;
      if (fault.kind === "hang") return; // the socket stays open until the client gives up
      if (fault.kind === "rateLimit") return answer429(res);
      if (fault.kind === "lostAnswer") {
        const send = res.send.bind(res);
        res.send = () => {
          res.send = send;
          answerError(res, fault.status);
          return res;
        };
        return next();
      }
      return answerError(res, fault.status);
    };
  }
}
