import type { RequestHandler } from "express";

export interface IgnoredWait {
  method: string;
  path: string;
  /** When the request came (the simulator's clock, ms). */
  at: number;
  /** How long before the announced wait was over it came. */
  earlyByMs: number;
}

/**
 * A vendor's "wait before you call again" (a 429), and the requests that came anyway. Real vendors
 * hold it against the caller (Kommo counts the 429s they earn towards its IP block); the simulator
 * lists them so a test can ask for none without reading the clock itself.
 */
export class AnnouncedWaits {
  /** Requests already on their way when the 429 went out are not ignoring it. */
  static readonly IN_FLIGHT_GRACE_MS = 300;
  /** The two clocks (ours, the caller's) and the socket may disagree by this much at the end of a wait. */
  static readonly END_TOLERANCE_MS = 50;

  readonly ignored: IgnoredWait[] = [];
  private announcedAt = Number.NEGATIVE_INFINITY;
  private until = Number.NEGATIVE_INFINITY;

  constructor(private readonly now: () => number) {}

  /** A 429 just went out, asking for `waitMs` (what it said, or one window when it named nothing). */
  announce(waitMs: number): void {
    this.announcedAt = this.now();
    this.until = Math.max(this.until, this.announcedAt + waitMs);
  }

  /** Notes each request that `counts` while a wait is on; mount it before the limits and faults. */
  watch(counts: (path: string) => boolean = () => true): RequestHandler {
    return (req, _res, next) => {
      const at = this.now();
      const earlyByMs = this.until - at;
      if (counts(req.path) && at > this.announcedAt + AnnouncedWaits.IN_FLIGHT_GRACE_MS && earlyByMs > AnnouncedWaits.END_TOLERANCE_MS) {
        this.ignored.push({ method: req.method, path: req.path, at, earlyByMs });
      }
      next();
    };
  }
}
