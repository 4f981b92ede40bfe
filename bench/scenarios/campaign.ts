import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { createDb } from "@funnelsync/db";
import { KOMMO_MAX_PAGE } from "@funnelsync/kommo-client";
import type { KommoSimulator } from "@funnelsync/simulators";
import { sampleMemory } from "../lib/apps";
import { EventTracker, loopsEventSent, moosendSubscribed } from "../lib/eventTracker";
import { STATUS, seedLeads, type BenchLead } from "../lib/kommoEvents";
import { figure } from "../lib/report";
import { LISTS, MAPPINGS, abortable, type Scenario, type ScenarioContext } from "../lib/scenario";
import { BENCH_DATABASE_URL } from "../lib/services";
import { round } from "../lib/stats";
import { throttles, type TimedRequest } from "../lib/vendors";
import { latencyFigures, sendAtRate, startStack, waitForEffects } from "./e2e";

const ENGAGEMENT = `
engagement:
  notes: [opened, clicked]
  lastEngagementFieldId: 880002
  score: { fieldId: 770003, opened: 1, clicked: 5 }
  taskOnClick: { text: "Follow up: clicked {subject}", dueHours: 24 }
  kommoCallsPerSecond: 3
  coalesceSeconds: 30
`;

/**
 * The campaign, and a tenth of it (same event rate, a tenth of the time) for `--quick`; before
 * it, stage changes at the same rate alone (`aloneSeconds`) give the same run's live latency without it.
 */
function sizes(quick: boolean) {
  return quick
    ? { recipients: 5_000, opens: 2_000, clicks: 300, seconds: 60, aloneSeconds: 30 }
    : { recipients: 50_000, opens: 20_000, clicks: 3_000, seconds: 600, aloneSeconds: 120 };
}

/** CPU seconds (user + system) a process has used so far, from /proc (null elsewhere). */
function cpuSeconds(pid: number): number | null {
  try {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** CPU use of a process over a phase, as a share of one core. */
function cpuMeter(pid: number): { stop(): number | null } {
  const startCpu = cpuSeconds(pid);
  const start = performance.now();
  return {
    stop() {
      const endCpu = cpuSeconds(pid);
      return startCpu === null || endCpu === null ? null : round((endCpu - startCpu) / ((performance.now() - start) / 1000), 3);
    },
  };
}

const LIVE_EFFECTS = ["moosend.subscribe", "loops.event.nurture_started"];
const liveTracker = (log: TimedRequest[]) => new EventTracker(log, LIVE_EFFECTS, [moosendSubscribed(LISTS.nurture), loopsEventSent("nurture_started")]);

async function engagementCounts(client: pg.Client): Promise<{ total: number; pending: number }> {
  const { rows } = await client.query<{ total: string; pending: string }>(
    "SELECT count(*) AS total, count(*) FILTER (WHERE applied_at IS NULL) AS pending FROM engagements",
  );
  return { total: Number(rows[0]!.total), pending: Number(rows[0]!.pending) };
}

async function engagementKommoCalls(workerUrl: string): Promise<number> {
  const text = await (await fetch(`${workerUrl}/metrics`)).text();
  const line = /^funnelsync_engagement_kommo_calls_total (\d+(?:\.\d+)?)/m.exec(text);
  return line ? Number(line[1]) : 0;
}

/** Every Kommo call of the run (engagement and live sync) by method and route, ids folded. */
function kommoCallsByRoute(requests: TimedRequest[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { vendor, entry } of requests) {
    if (vendor !== "kommo") continue;
    const route = `${entry.method} ${entry.path.replace(/\/\d+/g, "/:id")}`;
    counts[route] = (counts[route] ?? 0) + 1;
  }
  return counts;
}

/**
 * Where the campaign's recipients stand after forward sync: linked to their Kommo contact, known to
 * Loops, and their contact's leads and the leads' stages recorded as forward sync's reads of them
 * (pages of 250) record them.
 */
async function asSyncedByForwardSync(client: pg.Client, kommo: KommoSimulator, recipients: BenchLead[], addLoopsContact: (email: string) => void): Promise<void> {
  for (let i = 0; i < recipients.length; i += 5_000) {
    const chunk = recipients.slice(i, i + 5_000);
    await client.query(
      "INSERT INTO contact_links (kommo_contact_id, email, updated_at) SELECT id, email, now() FROM unnest($1::int[], $2::text[]) AS t(id, email) ON CONFLICT DO NOTHING",
      [chunk.map((r) => r.contactId), chunk.map((r) => r.email)],
    );
  }
  const db = createDb(BENCH_DATABASE_URL);
  const readAt = new Date();
  try {
    for (let i = 0; i < recipients.length; i += KOMMO_MAX_PAGE) {
      const leads = recipients.slice(i, i + KOMMO_MAX_PAGE).map((r) => kommo.state.leads.get(r.leadId)!);
      await db.kommoRecords.recordContacts(leads.flatMap((lead) => lead.contacts.map((c) => ({ id: c.id, leadIds: [lead.id], updatedAt: kommo.state.contacts.get(c.id)!.updatedAt }))), readAt);
      await db.kommoRecords.recordLeads(leads.map((lead) => ({ ...lead, contactIds: lead.contacts.map((c) => c.id) })), readAt);
    }
  } finally {
    await db.close();
  }
  for (const r of recipients) addLoopsContact(r.email);
}

/**
 * A campaign's opens and clicks arriving at the Loops webhook while live stage changes run at 1 per
 * second: what engagement costs in Kommo calls, how soon the last one is on the card, and whether live
 * sync keeps its latency.
 */
async function campaign(ctx: ScenarioContext) {
  const size = sizes(ctx.quick);
  const mapping = join(ctx.logDir, "campaign.yaml");
  writeFileSync(mapping, readFileSync(MAPPINGS.full, "utf8") + ENGAGEMENT);
  ctx.progress(`campaign: seeding ${size.recipients} recipients and ${size.aloneSeconds + size.seconds} live leads`);
  const running = await startStack(ctx, mapping, async (vendors) => ({
    recipients: await seedLeads(vendors.kommo, size.recipients, { idBase: 50_000_000, tag: "campaign" }),
    live: await seedLeads(vendors.kommo, size.seconds, { idBase: 60_000_000, tag: "campaign-live" }),
    alone: await seedLeads(vendors.kommo, size.aloneSeconds, { idBase: 61_000_000, tag: "campaign-alone" }),
  }));
  const { loops } = running.vendors;
  const { recipients, live, alone } = running.seeded;
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await client.connect();
  ctx.defer(() => client.end());
  await asSyncedByForwardSync(client, running.vendors.kommo, recipients, (email) => loops.addContact({ email }));
  loops.webhookUrl = `${running.ingest.url}/webhooks/loops`;
  const memory = sampleMemory(running.worker.pid);

  ctx.progress(`campaign: ${size.aloneSeconds} s of 1 stage change per second alone, for reference`);
  const aloneTracker = liveTracker(running.vendors.log);
  const aloneCpu = { worker: cpuMeter(running.worker.pid), ingest: cpuMeter(running.ingest.pid) };
  const aloneSent = await sendAtRate(running, aloneTracker, alone, { rate: 1, statusId: STATUS.nurture, signal: ctx.signal });
  await waitForEffects(aloneTracker, aloneSent.lastSentAt + 30_000, ctx.signal);
  const aloneCpuShare = { worker: aloneCpu.worker.stop(), ingest: aloneCpu.ingest.stop() };

  const total = size.opens + size.clicks;
  ctx.progress(`campaign: ${size.opens} opens and ${size.clicks} clicks over ${size.seconds} s, and 1 stage change per second`);
  const tracker = liveTracker(running.vendors.log);
  const campaignCpu = { worker: cpuMeter(running.worker.pid), ingest: cpuMeter(running.ingest.pid) };
  const liveSending = sendAtRate(running, tracker, live, { rate: 1, statusId: STATUS.nurture, signal: ctx.signal });

  const intervalMs = (size.seconds * 1000) / total;
  const start = performance.now();
  const deliveries: Array<Promise<unknown>> = [];
  let failedAcks = 0;
  let lastEngagementSentAt = start;
  for (let i = 0; i < total; i++) {
    abortable(ctx.signal);
    const due = start + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    // Clicks spread over the campaign; 7,919 is prime to the recipient counts, so every event is a
    // different person: the costliest case, nothing folds into an earlier note of the window.
    const kind = i % Math.round(total / size.clicks) === 0 ? "clicked" : "opened";
    const person = recipients[(i * 7_919) % recipients.length]!;
    lastEngagementSentAt = performance.now();
    deliveries.push(
      loops.engage(person.email, kind, { emailId: "em_spring_campaign", subject: "Spring pricing", sourceType: "campaign", sourceId: "cm_spring" }).then(([d]) => {
        if (d?.status !== 200) failedAcks++;
      }),
    );
  }
  await Promise.all(deliveries);
  const sent = await liveSending;
  const campaignCpuShare = { worker: campaignCpu.worker.stop(), ingest: campaignCpu.ingest.stop() };

  const waitMs = 120_000;
  let onCardAt: number | undefined;
  let counts = await engagementCounts(client);
  while (performance.now() < lastEngagementSentAt + waitMs) {
    abortable(ctx.signal);
    counts = await engagementCounts(client);
    if (counts.total >= total - failedAcks && counts.pending === 0) {
      onCardAt = performance.now();
      break;
    }
    await sleep(250);
  }
  await waitForEffects(tracker, sent.lastSentAt + 30_000, ctx.signal);
  const rss = memory.stop();
  const calls = await engagementKommoCalls(running.worker.url);
  const perFifty = (calls / total) * 50;
  const toCard = onCardAt === undefined ? null : (onCardAt - lastEngagementSentAt) / 1000;
  const requests = running.vendors.log;
  const s = `campaign ${total} events`;
  return {
    figures: [
      figure(s, "Kommo calls per 50 engagement events", perFifty, "", { digits: 2, target: { text: "≤ 1", met: perFifty <= 1 } }),
      figure(s, "last engagement → on the card", toCard, "s", {
        shown: toCard === null ? `> ${waitMs / 1000} s (${counts.pending} pending)` : undefined,
        target: { text: "< 60 s", met: toCard !== null && toCard < 60 },
      }),
      ...latencyFigures(s, "live stage change → last vendor call", tracker.latencies(), 30_000, { p99: 500 }),
      ...latencyFigures(`${s}, reference`, "the same stage changes alone before the campaign", aloneTracker.latencies(), 30_000, { p99: 500 }),
      figure(s, "429s received", throttles(requests).total429, "", { digits: 0, target: { text: "0", met: throttles(requests).total429 === 0 } }),
      figure(s, "worker peak RSS", rss.peakRssMb, "MB", { target: { text: "< 200 MB", met: rss.peakRssMb !== null && rss.peakRssMb < 200 } }),
    ],
    details: {
      size,
      failedAcks,
      liveFailedAcks: sent.failedAcks,
      engagementKommoCalls: calls,
      engagementsStored: counts.total,
      lastEngagementToCardSeconds: toCard === null ? null : round(toCard, 1),
      memory: rss,
      // Share of one core while the campaign was being sent, and during the reference phase before it.
      cpuShare: { campaign: campaignCpuShare, alone: aloneCpuShare },
      throttles: throttles(requests),
      kommoCallsByRoute: kommoCallsByRoute(requests),
    },
  };
}

export const campaignScenario: Scenario = {
  name: "campaign",
  describe: "opens and clicks of a campaign at the Loops webhook while stage changes run at 1/s",
  hardLimitMs: (quick) => (quick ? 8 : 20) * 60_000,
  run: campaign,
};
