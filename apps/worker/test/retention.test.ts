import type { Job } from "bullmq";
import { Client } from "pg";
import { QUEUES, type JobData } from "@funnelsync/jobs";
import { startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";
import { TEST_DATABASE_URL } from "../../../test/testEnv";
import { retention } from "../src/processors/retention";

/** Far in the past, so that no other test's rows (written now) are old enough to be pruned. */
const NOW = new Date("2021-06-01T00:00:00Z");
const OLD = new Date("2021-01-01T00:00:00Z"); // 151 days before NOW
const RECENT = new Date("2021-05-01T00:00:00Z"); // 31 days before NOW

describe("maintenance.retention", () => {
  let h: Harness;
  let pg: Client;
  beforeEach(async () => {
    h = await startHarness({ env: { RETENTION_DAYS: "45" } });
    pg = new Client({ connectionString: TEST_DATABASE_URL });
    await pg.connect();
  });
  /** Addresses of the engagements written here: the database is shared, and another file's worker would flush one left pending. */
  let engagedEmails: string[] = [];
  afterEach(async () => {
    await pg.query("DELETE FROM engagements WHERE email = ANY($1)", [engagedEmails]);
    engagedEmails = [];
    await pg.end();
    await h.stop();
  });

  async function rowsAt(at: Date, count: number): Promise<{ jobIds: string[]; dedupeKeys: string[]; email: string }> {
    const email = uniqueEmail("retained");
    const jobIds = Array.from({ length: count }, () => `test-retention-${uniqueId()}`);
    for (const jobId of jobIds) {
      await pg.query(
        `INSERT INTO received_events (source, dedupe_key, kind, email, payload, received_at) VALUES ('kommo', $1, 'test', $2, '{}', $3)`,
        [jobId, email, at],
      );
      await pg.query(
        `INSERT INTO sync_outcomes (job_id, job_name, step, vendor, action, status, attempts, email, created_at, updated_at)
         VALUES ($1, 'test', 'job', 'none', 'test', 'succeeded', 1, $2, $3, $3)`,
        [jobId, email, at],
      );
    }
    await pg.query(`INSERT INTO consents (email, state, source, changed_at) VALUES ($1, 'unsubscribed', 'loops', $2)`, [email, at]);
    await pg.query(`INSERT INTO consent_events (email, state, source, at) VALUES ($1, 'unsubscribed', 'loops', $2)`, [email, at]);
    return { jobIds, dedupeKeys: jobIds, email };
  }

  /** Engagements of one address at `at` (one applied, one not), and a Kommo note mark written at `at`. */
  async function engagementsAt(at: Date): Promise<{ email: string; markEntityId: number }> {
    const email = uniqueEmail("engaged");
    engagedEmails.push(email);
    const markEntityId = uniqueId();
    await pg.query(
      `INSERT INTO engagements (source, event_key, email, kind, message_id, occurred_at, applied_at)
       VALUES ('loops', $1, $3, 'opened', 'msg-1', $4, $4), ('loops', $2, $3, 'clicked', 'msg-1', $4, NULL)`,
      [`test-${uniqueId()}`, `test-${uniqueId()}`, email, at],
    );
    await pg.query(`INSERT INTO engagement_marks (entity_type, entity_id, key, kommo_id, text, updated_at) VALUES ('contacts', $1, 'note:opened:msg-1', 1, 'opened', $2)`, [
      markEntityId,
      at,
    ]);
    return { email, markEntityId };
  }

  const count = async (sql: string, values: unknown[]) => (await pg.query<{ n: number }>(sql, values)).rows[0]!.n;
  const events = (keys: string[]) => count("SELECT count(*)::int AS n FROM received_events WHERE dedupe_key = ANY($1)", [keys]);
  const outcomes = (ids: string[]) => count("SELECT count(*)::int AS n FROM sync_outcomes WHERE job_id = ANY($1)", [ids]);
  const consent = (email: string) =>
    count("SELECT (SELECT count(*) FROM consents WHERE email = $1) + (SELECT count(*) FROM consent_events WHERE email = $1) AS n", [email]).then(Number);

  it("deletes events and outcome rows older than RETENTION_DAYS by the injected clock, and keeps newer ones and all consent", async () => {
    const old = await rowsAt(OLD, 3);
    const recent = await rowsAt(RECENT, 2);

    const job = { data: { retentionDays: 45 } } as Job<JobData<"maintenance.retention">>;
    await retention(job, { ...h.worker!.deps, now: () => NOW });

    expect([await events(old.dedupeKeys), await outcomes(old.jobIds)]).toEqual([0, 0]);
    expect([await events(recent.dedupeKeys), await outcomes(recent.jobIds)]).toEqual([2, 2]);
    expect([await consent(old.email), await consent(recent.email)]).toEqual([2, 2]);
  });

  it("deletes engagements that happened, and marks last written, before RETENTION_DAYS, written to Kommo or not, and keeps newer ones", async () => {
    const old = await engagementsAt(OLD);
    const recent = await engagementsAt(RECENT);

    const job = { data: { retentionDays: 45 } } as Job<JobData<"maintenance.retention">>;
    await retention(job, { ...h.worker!.deps, now: () => NOW });

    const engagements = (email: string) => count("SELECT count(*)::int AS n FROM engagements WHERE email = $1", [email]);
    const marks = (entityId: number) => count("SELECT count(*)::int AS n FROM engagement_marks WHERE entity_id = $1", [entityId]);
    expect([await engagements(old.email), await marks(old.markEntityId)]).toEqual([0, 0]);
    expect([await engagements(recent.email), await marks(recent.markEntityId)]).toEqual([2, 1]);
  });

  it("deletes the Kommo records (contacts' leads, leads' stages, engagement's field writes) not written since RETENTION_DAYS, and keeps newer ones", async () => {
    const recordAt = async (at: Date) => {
      const id = uniqueId();
      await pg.query(`INSERT INTO kommo_contact_leads (contact_id, lead_ids, kommo_updated_at, read_at, recorded_at) VALUES ($1, $2, 1, $3, $3)`, [id, [id], at]);
      await pg.query(`INSERT INTO kommo_lead_states (lead_id, pipeline_id, status_id, kommo_updated_at, read_at, recorded_at) VALUES ($1, 5001, 6001, 1, $2, $2)`, [id, at]);
      await pg.query(`INSERT INTO engagement_field_writes (entity_type, entity_id, kommo_updated_at, written_at) VALUES ('leads', $1, 1, $2)`, [id, at]);
      return id;
    };
    const old = await recordAt(OLD);
    const recent = await recordAt(RECENT);

    const job = { data: { retentionDays: 45 } } as Job<JobData<"maintenance.retention">>;
    await retention(job, { ...h.worker!.deps, now: () => NOW });

    const records = (id: number) =>
      count(
        `SELECT (SELECT count(*) FROM kommo_contact_leads WHERE contact_id = $1) + (SELECT count(*) FROM kommo_lead_states WHERE lead_id = $1)
              + (SELECT count(*) FROM engagement_field_writes WHERE entity_id = $1) AS n`,
        [id],
      ).then(Number);
    expect([await records(old), await records(recent)]).toEqual([0, 3]);
  });

  it("deletes in batches until none are left", async () => {
    const old = await rowsAt(OLD, 5);
    const engaged = await Promise.all([engagementsAt(OLD), engagementsAt(OLD), engagementsAt(OLD)]);
    const pruned = await h.worker!.db.retention.prune(new Date("2021-01-02T00:00:00Z"), { batchSize: 2 });
    expect(pruned.receivedEvents).toBeGreaterThanOrEqual(5);
    expect(pruned.syncOutcomes).toBeGreaterThanOrEqual(5);
    expect(pruned.engagements).toBeGreaterThanOrEqual(6);
    expect(pruned.engagementMarks).toBeGreaterThanOrEqual(3);
    expect(await count("SELECT count(*)::int AS n FROM engagements WHERE email = ANY($1)", [engaged.map((e) => e.email)])).toBe(0);
    expect([await events(old.dedupeKeys), await outcomes(old.jobIds)]).toEqual([0, 0]);
  });

  it("is scheduled daily on the maintenance queue with RETENTION_DAYS", async () => {
    const queue = h.worker!.queues.find((q) => q.name === QUEUES.maintenance)!;
    const scheduler = await queue.getJobScheduler("retention");
    expect(scheduler).toMatchObject({ pattern: "30 3 * * *", tz: "UTC", name: "maintenance.retention", template: { data: { retentionDays: 45 } } });
  });
});
