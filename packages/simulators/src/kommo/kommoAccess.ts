import { STATUS_CODES } from "node:http";
import type { RequestHandler, Response } from "express";
import { bearerToken } from "../shared/bearerToken";
import type { AnnouncedWaits } from "../shared/announcedWaits";
import { SlidingWindow } from "../shared/slidingWindow";
import { nginxPage, problem } from "./kommoHttp";
import type { KommoSimState } from "./kommoState";

export interface KommoAccessOptions {
  rateLimit: { max: number; perMs: number };
  rateLimitBy: "ip" | "token";
  retryAfterSeconds: number;
  blockAfter429s: number;
  blockWindowMs: number;
  blockMs: number;
  /** The clock the limit and the block count by, in ms. */
  now: () => number;
  /** Told of each 429's `retry_after`. */
  waits: AnnouncedWaits;
}

export interface KommoAccess {
  /** Refuses blocked IPs (403 page) and callers past the sliding-window limit (429). */
  rateLimit: RequestHandler;
  /** Checks the Bearer token (Kommo's 401). */
  authenticate: RequestHandler;
  /** Kommo's 429, counted towards the IP block. */
  throttle(res: Response): void;
  /** Kommo's own answer for an error status: problem+json, or nginx's page for 403 and 5xx gateways. */
  answerError(res: Response, status: number): void;
}

/** Who may call Kommo's API and how often, and how it answers when they may not. */
export function kommoAccess(state: KommoSimState, options: KommoAccessOptions): KommoAccess {
  const limiter = new SlidingWindow(options.rateLimit.max, options.rateLimit.perMs);

  function throttle(res: Response): void {
    const at = options.now();
    state.recent429s = [...state.recent429s.filter((t) => t > at - options.blockWindowMs), at];
    if (state.recent429s.length >= options.blockAfter429s) {
      state.blockedUntil = at + options.blockMs;
      state.recent429s = [];
      for (const hook of state.webhooks) hook.disabled = true;
    }
    options.waits.announce(options.retryAfterSeconds * 1_000);
    problem(res, 429, "Too Many Requests", "You have sent too many requests in a given amount of time. Please try again later.", {
      retry_after: options.retryAfterSeconds,
    });
  }

  function unauthorized(res: Response): void {
    problem(res, 401, "Unauthorized", "Invalid user name or password");
  }

  function answerError(res: Response, status: number): void {
    switch (status) {
      case 400:
        return problem(res, 400, "Bad Request", "Request validation failed");
      case 401:
        return unauthorized(res);
      case 402:
        return problem(res, 402, "Payment Required", "Payment required");
      case 403:
      case 502:
      case 503:
      case 504:
        return nginxPage(res, status);
      case 429:
        return throttle(res);
      case 500:
        return problem(res, 500, "ErrInternalServer", "Internal server error", { trace_id: Math.random().toString(16).slice(2, 18) });
      default:
        return problem(res, status, STATUS_CODES[status] ?? "Error", STATUS_CODES[status] ?? "Error");
    }
  }

  const rateLimit: RequestHandler = (req, res, next) => {
    if (state.blockedUntil > options.now()) return nginxPage(res, 403);
    const key = options.rateLimitBy === "token" ? String(req.headers.authorization ?? "") : (req.ip ?? req.socket.remoteAddress ?? "");
    if (!limiter.take(key, options.now()).ok) return throttle(res);
    next();
  };

  const authenticate: RequestHandler = (req, res, next) => {
    if (bearerToken(req) !== state.accessToken) return unauthorized(res);
    next();
  };

  return { rateLimit, authenticate, throttle, answerError };
}
