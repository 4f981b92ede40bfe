import { SingleBar } from "cli-progress";
import type { BackfillProgress } from "./commands/backfill";

export interface ProgressReporter {
  onPage(progress: BackfillProgress): void;
  stop(): void;
}

/**
 * A progress bar while stdout is a terminal; one plain line per page otherwise (a log, a pipe, CI).
 * Kommo does not say how many leads a pipeline has, so the bar's total grows by a page while
 * `_links.next` says there is more.
 */
export function backfillReporter(stream: NodeJS.WritableStream & { isTTY?: boolean }, pageSize: number): ProgressReporter {
  if (!stream.isTTY) {
    return {
      onPage: (p) =>
        stream.write(`page ${p.page}: ${p.pageLeads} leads (${p.leads} so far), ${p.enqueued} ${p.dryRun ? "to enqueue" : "enqueued"}, ${p.alreadyQueued} already queued\n`),
      stop: () => undefined,
    };
  }
  const bar = new SingleBar({
    stream: stream as NodeJS.WriteStream, // a terminal, as checked above
    format: "backfill |{bar}| {value}/{total} leads | page {page} | {enqueued} {verb}, {alreadyQueued} already queued",
    hideCursor: true,
    clearOnComplete: false,
  });
  let started = false;
  return {
    onPage(p) {
      const total = p.leads + (p.hasMore ? pageSize : 0);
      const payload = { page: p.page, enqueued: p.enqueued, verb: p.dryRun ? "to enqueue" : "enqueued", alreadyQueued: p.alreadyQueued };
      if (!started) {
        bar.start(total, p.leads, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(p.leads, payload);
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
