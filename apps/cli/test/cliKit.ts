import { resolve } from "node:path";
import { Writable } from "node:stream";
import { REPO_ROOT, type Harness } from "../../../test/harness";
import { TEST_DATABASE_URL, TEST_HASH_KEY, TEST_REDIS_URL } from "../../../test/testEnv";
import { runCli } from "../src/cli";

/**
 * The environment an operator would give the CLI for the harness's simulators: production rules,
 * every credential set, the test database.
 */
export function cliEnv(h: Harness, overrides: Record<string, string> = {}): Record<string, string> {
  const { kommo, moosend, loops } = h.config;
  return {
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    FUNNELSYNC_CONFIG: resolve(REPO_ROOT, "funnelsync.yaml"),
    KOMMO_BASE_URL: kommo.baseUrl!,
    KOMMO_ACCESS_TOKEN: kommo.accessToken!,
    KOMMO_WEBHOOK_SECRET: kommo.webhookSecret!,
    MOOSEND_BASE_URL: moosend.baseUrl!,
    MOOSEND_API_KEY: moosend.apiKey!,
    MOOSEND_WEBHOOK_SECRET: moosend.webhookSecret!,
    LOOPS_BASE_URL: loops.baseUrl!,
    LOOPS_API_KEY: loops.apiKey!,
    LOOPS_WEBHOOK_SECRET: loops.webhookSecret!,
    FUNNELSYNC_HASH_KEY: TEST_HASH_KEY,
    ...overrides,
  };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function capture(): { stream: Writable & { isTTY: false }; text: () => string } {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    }),
    { isTTY: false as const },
  );
  return { stream, text: () => chunks.join("") };
}

/** Runs one CLI command in this process, against the harness's queues (its BullMQ prefix). */
export async function cli(h: Harness, args: string[], env: Record<string, string> = cliEnv(h)): Promise<CliRun> {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli([...args, "--queue-prefix", h.prefix], { stdout: stdout.stream, stderr: stderr.stream, env });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
