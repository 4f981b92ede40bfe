import type { Config } from "@funnelsync/config";
import type { Logger } from "@funnelsync/logger";
import type { RunningWorker } from "@funnelsync/worker";
import type { Sims } from "./simulators";

const LIST_NAMES: Record<string, string> = {
  "0b6f5a1e-0000-4000-8000-000000000001": "New leads",
  "0b6f5a1e-0000-4000-8000-000000000002": "Nurture",
  "0b6f5a1e-0000-4000-8000-000000000003": "Customers",
};

/** Work still to do: waiting, active and retry-delayed jobs (the next runs of schedules, polling and retention, aside). */
async function pendingJobs(worker: RunningWorker): Promise<number> {
  let pending = 0;
  for (const queue of worker.queues) {
    const counts = await queue.getJobCounts("waiting", "active", "prioritized");
    pending += (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.prioritized ?? 0);
    pending += (await queue.getJobs(["delayed"])).filter((job) => !job.repeatJobKey).length;
  }
  return pending;
}

async function drained(worker: RunningWorker, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quietSince = 0;
  while (Date.now() < deadline) {
    if ((await pendingJobs(worker)) === 0) {
      quietSince ||= Date.now();
      if (Date.now() - quietSince > 750) return; // webhooks fired by our own Kommo writes arrive a moment later
    } else quietSince = 0;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function say(text: string): void {
  console.log(`demo: ${text}`);
}

/**
 * `npm run demo`: a story against the simulators: three leads arrive, move through the pipeline,
 * one is won; then one person unsubscribes in Loops and another bounces in Moosend, and a later
 * stage change shows that opted-out people stay out. Ends with what was synced.
 */
export async function runDemo({ config, worker, sims }: { config: Config; worker: RunningWorker; sims: Sims; logger: Logger }): Promise<void> {
  const { kommo, moosend, loops } = sims;
  if (!kommo || !moosend || !loops) {
    say("the demo needs all three simulators (unset the vendor credentials)");
    return;
  }
  const startedAt = new Date();
  const people = [
    { name: "Marina Costa", email: "marina.costa@example.test", company: "Costa Design", budget: 8000 },
    { name: "Tomás Herrera", email: "tomas@herrera.example.test", company: "Herrera Foods", budget: 25000 },
    { name: "Lena Vogel", email: "lena.vogel@example.test", company: "Vogel GmbH", budget: 3000 },
  ];
  say("three leads arrive in Kommo (New lead)");
  // Ids of this run's own: the database remembers earlier runs, and a Kommo id names one lead forever.
  const idBase = 40_000_000 + (Math.floor(startedAt.getTime() / 1000) % 10_000_000) * 2;
  const leads = [];
  for (const [i, p] of people.entries()) {
    const contact = await kommo.addContact({ id: idBase + i, name: p.name, email: p.email, company: p.company, optIn: true });
    leads.push(await kommo.addLead({ id: idBase + 10 + i, name: `${p.company} deal`, contactId: contact.id, budget: p.budget, statusId: 6001 }));
  }
  await drained(worker);
  say(`${people[0]!.name} and ${people[1]!.name} move to Nurture`);
  await kommo.moveLead(leads[0]!.id, 6002);
  await kommo.moveLead(leads[1]!.id, 6002);
  await drained(worker);
  say(`${people[1]!.name}'s deal is won`);
  await kommo.moveLead(leads[1]!.id, 142);
  say(`${people[2]!.name}'s deal is lost`);
  await kommo.moveLead(leads[2]!.id, 143);
  await drained(worker);
  say(`${people[0]!.name} unsubscribes in Loops; mail to ${people[2]!.name} bounces in Moosend`);
  await loops.unsubscribe(people[0]!.email);
  await moosend.bounce("0b6f5a1e-0000-4000-8000-000000000001", people[2]!.email, { viaAutomation: true });
  await drained(worker);
  say(`${people[0]!.name}'s deal is won anyway: the opt-out must hold`);
  await kommo.moveLead(leads[0]!.id, 142);
  await drained(worker);

  console.log("\n== What was synced");
  for (const [listId, name] of Object.entries(LIST_NAMES)) {
    const members = moosend.subscribers(listId).filter((s) => people.some((p) => p.email === s.Email));
    console.log(`Moosend list "${name}": ${members.map((m) => `${m.Email} (${m.Status}; Company=${m.CustomFields.Company ?? ""}, Budget=${m.CustomFields.Budget ?? ""})`).join(", ") || "—"}`);
  }
  for (const p of people) {
    const events = loops.state.events.filter((e) => e.email === p.email).map((e) => e.eventName);
    const mails = loops.state.transactionals.filter((t) => t.email === p.email).map((t) => t.transactionalId);
    console.log(`Loops ${p.email}: events ${events.join(", ") || "—"}; transactional ${mails.join(", ") || "—"}`);
  }
  for (const [i, p] of people.entries()) {
    const contactId = kommo.lead(leads[i]!.id)?.contacts.find((c) => c.isMain)?.id;
    const contact = contactId ? kommo.contact(contactId) : undefined;
    if (!contact) continue;
    const notes = kommo.notesFor("contacts", contact.id).length + kommo.notesFor("leads", leads[i]!.id).length;
    const tasks = kommo.tasksFor("contacts", contact.id).length;
    const optIn = kommo.fieldValues(contact, 880001)[0];
    console.log(`Kommo ${p.name}: tags ${contact.tags.map((t) => t.name).join(", ") || "—"}; opt-in ${String(optIn)}; ${notes} note(s), ${tasks} task(s)`);
  }
  for (const p of people) {
    const consent = await worker.db.consent.get(p.email);
    console.log(`Consent ${p.email}: ${consent ? `${consent.state} (${consent.source})` : "subscribed (no record)"}`);
  }
  const rows = await worker.db.outcomes.since(startedAt);
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.status, (counts.get(row.status) ?? 0) + 1);
  console.log(`Outcomes of this run: ${[...counts].map(([status, n]) => `${n} ${status}`).join(", ")}`);
  console.log(`\nDashboard: http://127.0.0.1:${config.adminPort}/admin/queues — Ctrl-C to stop.`);
}
