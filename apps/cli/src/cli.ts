import { Argument, Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { ConfigError, loadConfig, loadRecordsConfig } from "@funnelsync/config";
import { KEY_PREFIX } from "@funnelsync/jobs";
import { KOMMO_MAX_PAGE } from "@funnelsync/kommo-client";
import { assertBackfillTarget, backfill, formatBackfill, type BackfillSummary } from "./commands/backfill";
import { checkConfig, formatCheck, summarizeChecks } from "./commands/configCheck";
import { consentReport, formatConsent } from "./commands/consent";
import { forget, forgetFailed, formatForget } from "./commands/forget";
import { formatHistory, leadHistory } from "./commands/history";
import { formatWebhookStatus, installWebhook, webhookStatus } from "./commands/webhooks";
import { formatReplay, REPLAY_VENDORS, replayFailed, type ReplayVendor } from "./commands/replay";
import { formatResume, RESUMABLE_VENDORS, resumeVendor, type ResumableVendor } from "./commands/resume";
import { openOps, openRecords, type Ops, type Records } from "./opsContext";
import { backfillReporter } from "./progress";
import { UsageError } from "./usageError";

/** 0 ok; 1 problems found or the operation failed; 2 a usage or configuration error. */
export const EXIT = { ok: 0, problems: 1, usage: 2 } as const;

export interface CliIo {
  /** A terminal gets a progress bar, anything else plain lines. */
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  /** The environment for loadConfig(); the process's own by default. */
  env?: NodeJS.ProcessEnv;
}

function positiveInt(value: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) <= 0) throw new InvalidArgumentError("must be a positive integer");
  return Number(value);
}

function isoTimeArg(value: string): Date {
  const at = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(at.getTime())) throw new InvalidArgumentError("must be an ISO time, e.g. 2026-11-23T09:00:00Z");
  return at;
}

/** One line: Prisma's errors put the query's source before the cause, on the last line. */
function causeOf(err: unknown): string {
  const lines = (err instanceof Error ? err.message : String(err)).split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? "failed";
}

/**
 * Builds the program and runs one command; resolves to the exit code. Commands get their settings
 * from loadConfig() with the production rules (credentials required), like `npm run start:worker`.
 */
export async function runCli(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const print = (text: string) => io.stdout.write(`${text}\n`);
  let code: number = EXIT.ok;

  /** Runs a command on what it opened, and closes that whatever happens. */
  const runClosing = async <T extends { close(): Promise<void> }>(opened: T, run: (opened: T) => Promise<number>) => {
    let result: number;
    try {
      result = await run(opened);
    } catch (err) {
      await opened.close().catch(() => undefined); // the command's own error is the one to report
      throw err;
    }
    await opened.close();
    code = result;
  };

  /** Loads the config and opens what the command uses, on first use. */
  const withOps = async (command: Command, run: (ops: Ops) => Promise<number>, load: { credentialsOptional?: boolean } = {}) => {
    // Without credentials a vendor reads as unused (its client is undefined), which `forget` allows.
    const config = loadConfig({ ...(io.env ? { env: io.env } : {}), allowSimulators: load.credentialsOptional });
    await runClosing(openOps(config, command.optsWithGlobals<{ queuePrefix: string }>().queuePrefix), run);
  };

  /** For the commands that only read our records: DATABASE_URL is all they need. */
  const withRecords = (run: (records: Records) => Promise<number>) => runClosing(openRecords(loadRecordsConfig(io.env ? { env: io.env } : {})), run);

  const program = new Command("funnelsync")
    .description("Operate funnelsync: check the mapping against the vendors, replay failures, backfill, inspect history and consent, erase an address.")
    .addOption(new Option("--queue-prefix <prefix>", "BullMQ key prefix of the apps").default(KEY_PREFIX).hideHelp())
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) });

  program
    .command("config")
    .description("the mapping file: `config check`")
    .command("check")
    .description("check the mapping against the live Kommo, Moosend and Loops accounts (exit 1 if anything is missing)")
    .action(async (_options, command: Command) =>
      withOps(command, async (ops) => {
        const [moosend, loops] = [await ops.moosend(), await ops.loops()];
        const checks = await checkConfig({ mapping: ops.config.mapping, kommo: await ops.kommo(), moosend, loops });
        for (const check of checks) print(formatCheck(check));
        print(summarizeChecks(checks));
        return checks.every((c) => c.ok) ? EXIT.ok : EXIT.problems;
      }),
    );

  program
    .command("replay")
    .description("retry failed jobs of every queue, as the dashboard's retry does")
    .option("--since <time>", "only jobs that failed at or after this ISO time", isoTimeArg)
    .addOption(new Option("--vendor <vendor>", "only jobs with a failed step at this vendor").choices(REPLAY_VENDORS))
    .option("--lead <id>", "only jobs about this Kommo lead", positiveInt)
    .option("--dry-run", "list what would be retried, change nothing")
    .action(async (options: { since?: Date; vendor?: ReplayVendor; lead?: number; dryRun?: boolean }, command: Command) =>
      withOps(command, async (ops) => {
        const queues = await ops.queues();
        const result = await replayFailed({
          queues: [...queues.all],
          outcomes: ops.db().outcomes,
          filters: { since: options.since, vendor: options.vendor, leadId: options.lead },
          dryRun: options.dryRun,
        });
        print(formatReplay(result));
        return result.errors.length === 0 ? EXIT.ok : EXIT.problems;
      }),
    );

  program
    .command("backfill")
    .description("enqueue a lead-updated sync for every lead of a pipeline (or stage): lists and properties, no Loops events")
    .requiredOption("--pipeline <id>", "Kommo pipeline id", positiveInt)
    .option("--status <id>", "only the leads in this status of the pipeline", positiveInt)
    .option("--dry-run", "count what would be enqueued, enqueue nothing")
    .action(async (options: { pipeline: number; status?: number; dryRun?: boolean }, command: Command) =>
      withOps(command, async (ops) => {
        assertBackfillTarget(ops.config.mapping, options.pipeline, options.status); // before any connection
        const queues = await ops.queues();
        const reporter = backfillReporter(io.stdout, KOMMO_MAX_PAGE);
        let summary: BackfillSummary;
        try {
          summary = await backfill({
            kommo: await ops.kommo(),
            queues,
            mapping: ops.config.mapping,
            pipelineId: options.pipeline,
            statusId: options.status,
            dryRun: options.dryRun,
            pageSize: KOMMO_MAX_PAGE,
            onPage: (p) => reporter.onPage(p),
          });
        } finally {
          reporter.stop();
        }
        print(formatBackfill(summary));
        return EXIT.ok;
      }),
    );

  program
    .command("resume")
    .description("lift the stop after a vendor's block (Kommo's 403), once the vendor's support has lifted it")
    .addArgument(new Argument("<vendor>", "the vendor whose calls resume").choices(RESUMABLE_VENDORS))
    .action(async (vendor: ResumableVendor, _options, command: Command) =>
      withOps(command, async (ops) => {
        print(formatResume(vendor, await resumeVendor(await ops.gate(), vendor)));
        return EXIT.ok;
      }),
    );

  program
    .command("history")
    .description("every event received and every job step recorded for a lead, in time order")
    .requiredOption("--lead <id>", "Kommo lead id", positiveInt)
    .action(async (options: { lead: number }) =>
      withRecords(async (records) => {
        print(formatHistory(options.lead, await leadHistory(records.db(), options.lead)));
        return EXIT.ok;
      }),
    );

  program
    .command("consent")
    .description("an address's consent: current state, source, when and why, and its history")
    .argument("<email>", "the e-mail address")
    .action(async (email: string) =>
      withRecords(async (records) => {
        print(formatConsent(await consentReport(records.db().consent, email)));
        return EXIT.ok;
      }),
    );

  program
    .command("forget")
    .description("erase an address from every table, keeping only a keyed hash so that it is never subscribed again")
    .argument("<email>", "the e-mail address")
    .option("--vendors", "also delete it from the Moosend lists we manage and from Loops")
    .option("--dry-run", "report what would be erased, change nothing")
    .action(async (email: string, options: { vendors?: boolean; dryRun?: boolean }, command: Command) =>
      withOps(
        command,
        async (ops) => {
          if (!ops.config.hashKey) {
            throw new UsageError("forget: FUNNELSYNC_HASH_KEY is required (generate one with `openssl rand -hex 32`; give the worker the same key)");
          }
          const mapping = ops.config.mapping;
          const [moosend, loops] = options.vendors ? [await ops.moosend(), await ops.loops()] : [];
          if (options.vendors && ((mapping.usesMoosend() && !moosend) || (mapping.usesLoops() && !loops))) {
            throw new UsageError("forget --vendors: the credentials of every vendor the mapping uses are required (MOOSEND_API_KEY, LOOPS_API_KEY)");
          }
          const report = await forget({ erasure: ops.db().erasure, moosend, loops, mappedMoosendListIds: mapping.moosendListIds() }, email, options);
          print(formatForget(report));
          return forgetFailed(report) ? EXIT.problems : EXIT.ok;
        },
        { credentialsOptional: true },
      ),
    );

  const webhooks = program.command("webhooks").description("our Kommo webhook: `webhooks status`, `webhooks install`");
  const webhookSecret = (ops: Ops) => {
    const secret = ops.config.kommo.webhookSecret;
    if (!secret) throw new UsageError("webhooks: KOMMO_WEBHOOK_SECRET is not set");
    return secret;
  };
  webhooks
    .command("status")
    .description("is our webhook registered in Kommo with the needed events and enabled? (exit 1 if not)")
    .action(async (_options, command: Command) =>
      withOps(command, async (ops) => {
        const secret = webhookSecret(ops);
        const status = await webhookStatus(await ops.kommo(), secret);
        print(formatWebhookStatus(status, secret));
        return status.state === "ok" ? EXIT.ok : EXIT.problems;
      }),
    );
  webhooks
    .command("install")
    .description("register our webhook at PUBLIC_URL, or repair it (needed events, re-enabled); repeatable")
    .action(async (_options, command: Command) =>
      withOps(command, async (ops) => {
        const secret = webhookSecret(ops);
        const { did, after } = await installWebhook(await ops.kommo(), secret, ops.config.publicUrl);
        print(`kommo webhook ${did}`);
        print(formatWebhookStatus(after, secret));
        return after.state === "ok" ? EXIT.ok : EXIT.problems;
      }),
    );

  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage; // commander printed it
    // By name too, like isVendorError: a second copy of the module must still count as a usage error.
    if (err instanceof ConfigError || err instanceof UsageError || (err instanceof Error && ["ConfigError", "UsageError"].includes(err.name))) {
      io.stderr.write(`${err.message}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`funnelsync: ${causeOf(err)}\n`);
    return EXIT.problems;
  }
}
