export interface LoggedRequest {
  method: string;
  /** Path without the query string (Moosend's API key rides there). */
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  status: number;
  at: number;
}

/** Every request a simulator answered, so tests can assert on what our code really sent. */
export class RequestLog {
  readonly entries: LoggedRequest[] = [];
  /** Called with each request as soon as it is answered: a test's way to act between two calls of a client. */
  onAnswered: ((entry: LoggedRequest) => void) | undefined;

  add(entry: LoggedRequest): void {
    this.entries.push(entry);
    this.onAnswered?.(entry);
  }

  filter(predicate: (r: LoggedRequest) => boolean = () => true): LoggedRequest[] {
    return this.entries.filter(predicate);
  }

  count(predicate?: (r: LoggedRequest) => boolean): number {
    return this.filter(predicate).length;
  }

  /** The most requests matching `predicate` that arrived within any window of `windowMs`. */
  maxInWindow(windowMs: number, predicate?: (r: LoggedRequest) => boolean): number {
    const times = this.filter(predicate).map((r) => r.at).sort((a, b) => a - b);
    let best = 0;
    let start = 0;
    for (let end = 0; end < times.length; end++) {
      while (times[end]! - times[start]! >= windowMs) start++;
      best = Math.max(best, end - start + 1);
    }
    return best;
  }

  clear(): void {
    this.entries.length = 0;
  }
}
