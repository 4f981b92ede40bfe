import { json } from "node:stream/consumers";
import { FormPoster, pacedLoad, type PacedRun } from "./httpLoad";

/**
 * What `pacedLoadInProcess` asks of its child: POST to `url` at `rate` per second for `durationMs`,
 * body i being `bodyParts` joined by the id `firstId + i` (every request a new job).
 */
export interface PacedRequest {
  url: string;
  rate: number;
  durationMs: number;
  bodyParts: string[];
  firstId: number;
  maxSockets: number;
}

/**
 * Entry of the child process that generates the paced load: a fresh process with nothing else on
 * its event loop (no simulators, no autocannon heap), so its own pauses stay out of the answer times.
 * Reads a `PacedRequest` (JSON) from standard input and prints the `PacedRun` as JSON.
 */
async function main(): Promise<void> {
  const request = (await json(process.stdin)) as PacedRequest;
  const poster = new FormPoster(request.url, request.maxSockets);
  const run: PacedRun = await pacedLoad({
    poster,
    rate: request.rate,
    durationMs: request.durationMs,
    body: (i) => request.bodyParts.join(String(request.firstId + i)),
  });
  poster.close();
  process.stdout.write(JSON.stringify(run));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
