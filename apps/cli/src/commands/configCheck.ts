import type { Mapping } from "@funnelsync/config";
import type { KommoCustomField, KommoPipeline } from "@funnelsync/kommo-client";
import type { MoosendList } from "@funnelsync/moosend-client";
import type { KommoGateway, LoopsGateway, MoosendGateway } from "@funnelsync/vendor-gateway";
import { transactionalVariableNames } from "@funnelsync/worker";

/** One line of `funnelsync config check`. */
export interface Check {
  ok: boolean;
  what: string;
}

export interface ConfigCheckDeps {
  mapping: Mapping;
  kommo: Pick<KommoGateway, "getPipelines" | "getCustomFields">;
  /** Absent when Moosend has no credentials; then the mapping must not use it. */
  moosend?: Pick<MoosendGateway, "getLists" | "getListCustomFields">;
  loops?: Pick<LoopsGateway, "testApiKey" | "getContactProperties" | "listTransactionalEmails">;
}

const pass = (what: string): Check => ({ ok: true, what });
const fail = (what: string): Check => ({ ok: false, what });
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Runs `read`; on failure records a ✗ naming what could not be read and returns undefined. */
async function attempt<T>(checks: Check[], what: string, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    checks.push(fail(`${what}: ${message(err)}`));
    return undefined;
  }
}

/**
 * Compares the mapping file with the live accounts: every pipeline and status in Kommo, every mapped
 * Kommo field, every Moosend list with the mapped custom field names, every Loops property, every
 * Loops transactional e-mail (published, and given every data variable its template uses), and
 * each vendor's credentials. Reads only.
 */
export async function checkConfig(deps: ConfigCheckDeps): Promise<Check[]> {
  // The vendors are checked side by side (a dead host costs its retries once, not three times in a row); lines stay in vendor order.
  const groups = await Promise.all(
    [checkKommo, checkMoosend, checkLoops].map(async (check) => {
      const checks: Check[] = [];
      await check(deps, checks);
      return checks;
    }),
  );
  return groups.flat();
}

async function checkKommo({ mapping, kommo }: ConfigCheckDeps, checks: Check[]): Promise<void> {
  const wanted = mapping.fields.map((f) => f.kommoFieldId);
  const optInId = mapping.kommo.optInFieldId;
  const engagementFields = engagementFieldsOf(mapping);
  const needsFields = wanted.length > 0 || optInId !== undefined || engagementFields.length > 0;
  const readErrors: [Check[], Check[], Check[]] = [[], [], []]; // one per read, so the lines keep this order
  const [pipelines, leadFields, contactFields] = await Promise.all([
    attempt(readErrors[0], "kommo: cannot read the pipelines", () => kommo.getPipelines()),
    needsFields ? attempt(readErrors[1], "kommo: cannot read the lead fields", () => kommo.getCustomFields("leads")) : undefined,
    needsFields ? attempt(readErrors[2], "kommo: cannot read the contact fields", () => kommo.getCustomFields("contacts")) : undefined,
  ]);
  checks.push(...readErrors.flat());
  if (pipelines) {
    checks.push(pass(`kommo: access token accepted (${pipelines.length} pipeline${pipelines.length === 1 ? "" : "s"})`));
    for (const mapped of mapping.pipelines) checkPipeline(mapped, pipelines, checks);
  }
  if (!leadFields || !contactFields) return;
  const byId = new Map<number, KommoCustomField>([...leadFields, ...contactFields].map((f) => [f.id, f]));
  for (const id of wanted) {
    const field = byId.get(id);
    checks.push(
      field
        ? pass(`kommo: field ${id} "${field.name}" exists (${field.entityType === "leads" ? "lead" : "contact"} field)`)
        : fail(`kommo: field ${id} is neither a lead nor a contact field`),
    );
  }
  if (optInId !== undefined) {
    const field = contactFields.find((f) => f.id === optInId);
    if (!field) checks.push(fail(`kommo: opt-in field ${optInId} is not a contact field`));
    else if (field.type !== "checkbox") checks.push(fail(`kommo: opt-in field ${optInId} "${field.name}" is a ${field.type} field, not a checkbox`));
    else checks.push(pass(`kommo: opt-in field ${optInId} "${field.name}" is a contact checkbox`));
  }
  for (const wantedField of engagementFields) {
    const fields = wantedField.entityType === "leads" ? leadFields : contactFields;
    const where = `${wantedField.entityType === "leads" ? "lead" : "contact"} ${wantedField.type}`;
    const field = fields.find((f) => f.id === wantedField.id);
    if (!field) checks.push(fail(`kommo: ${wantedField.what} ${wantedField.id} is not a ${wantedField.entityType === "leads" ? "lead" : "contact"} field`));
    else if (field.type !== wantedField.type) checks.push(fail(`kommo: ${wantedField.what} ${field.id} "${field.name}" is a ${field.type} field, not a ${wantedField.type} field`));
    else checks.push(pass(`kommo: ${wantedField.what} ${field.id} "${field.name}" is a ${where} field`));
  }
}

/** The fields the `engagement` block writes, with the kind each must be. */
function engagementFieldsOf(mapping: Mapping): Array<{ id: number; what: string; entityType: "leads" | "contacts"; type: string }> {
  const engagement = mapping.engagement;
  if (!engagement) return [];
  return [
    ...(engagement.lastEngagementFieldId ? [{ id: engagement.lastEngagementFieldId, what: "last-engagement field", entityType: "contacts" as const, type: "date" }] : []),
    ...(engagement.score ? [{ id: engagement.score.fieldId, what: "score field", entityType: "leads" as const, type: "numeric" }] : []),
  ];
}

function checkPipeline(mapped: Mapping["pipelines"][number], pipelines: KommoPipeline[], checks: Check[]): void {
  const pipeline = pipelines.find((p) => p.id === mapped.pipelineId);
  if (!pipeline) {
    checks.push(fail(`kommo: pipeline ${mapped.pipelineId} does not exist (the account has ${pipelines.map((p) => p.id).join(", ") || "none"})`));
    return;
  }
  checks.push(pass(`kommo: pipeline ${pipeline.id} "${pipeline.name}" exists`));
  for (const stage of mapped.stages) {
    const status = pipeline.statuses.find((s) => s.id === stage.statusId);
    checks.push(
      status
        ? pass(`kommo: stage ${pipeline.id}/${status.id} "${status.name}" exists`)
        : fail(`kommo: pipeline ${pipeline.id} "${pipeline.name}" has no status ${stage.statusId}`),
    );
  }
}

async function checkMoosend({ mapping, moosend }: ConfigCheckDeps, checks: Check[]): Promise<void> {
  if (!mapping.usesMoosend()) return;
  if (!moosend) {
    checks.push(fail("moosend: the mapping names Moosend lists but MOOSEND_API_KEY is not set"));
    return;
  }
  const lists = await attempt(checks, "moosend: cannot read the lists", () => moosend.getLists());
  if (!lists) return;
  checks.push(pass(`moosend: API key accepted (${lists.length} list${lists.length === 1 ? "" : "s"})`));
  const fieldNames = mapping.fields.flatMap((f) => (f.moosend ? [f.moosend] : []));
  for (const listId of mapping.moosendListIds()) {
    const list: MoosendList | undefined = lists.find((l) => l.id.toLowerCase() === listId.toLowerCase());
    if (!list) {
      checks.push(fail(`moosend: list ${listId} does not exist`));
      continue;
    }
    checks.push(pass(`moosend: list ${list.id} "${list.name}" exists`));
    if (fieldNames.length === 0) continue;
    const present = await attempt(checks, `moosend: cannot read the custom fields of list "${list.name}"`, () => moosend.getListCustomFields(list.id));
    if (!present) continue;
    // Exact names: whether Moosend matches `Name=Value` pairs without regard to case is unconfirmed.
    const missing = fieldNames.filter((name) => !present.includes(name));
    checks.push(
      missing.length === 0
        ? pass(`moosend: list "${list.name}" has the custom fields ${fieldNames.join(", ")}`)
        : fail(`moosend: list "${list.name}" lacks the custom field${missing.length === 1 ? "" : "s"} ${missing.join(", ")}`),
    );
  }
}

async function checkLoops({ mapping, loops }: ConfigCheckDeps, checks: Check[]): Promise<void> {
  if (!mapping.usesLoops()) return;
  if (!loops) {
    checks.push(fail("loops: the mapping names Loops events but LOOPS_API_KEY is not set"));
    return;
  }
  const team = await attempt(checks, "loops: cannot check the API key", () => loops.testApiKey());
  if (!team) return;
  checks.push(pass(`loops: API key accepted (team "${team.teamName}")`));
  const wanted = mapping.fields.flatMap((f) => (f.loops ? [f.loops] : []));
  const transactionalIds = mapping.loopsTransactionalIds();
  const [properties, published] = await Promise.all([
    wanted.length > 0 ? attempt(checks, "loops: cannot read the contact properties", () => loops.getContactProperties()) : undefined,
    transactionalIds.length > 0 ? attempt(checks, "loops: cannot list the transactional e-mails", () => loops.listTransactionalEmails()) : undefined,
  ]);
  if (properties) {
    for (const key of wanted) {
      const property = properties.find((p) => p.key === key);
      checks.push(property ? pass(`loops: contact property ${key} (${property.type}) exists`) : fail(`loops: no contact property "${key}"`));
    }
  }
  if (!published) return;
  const sent = new Set(transactionalVariableNames(mapping));
  for (const id of transactionalIds) {
    const email = published.find((e) => e.id === id);
    if (!email) {
      checks.push(fail(`loops: transactional e-mail ${id} is not published (or does not exist)`));
      continue;
    }
    const unsent = email.dataVariables.filter((name) => !sent.has(name));
    checks.push(
      unsent.length === 0
        ? pass(`loops: transactional e-mail ${id} "${email.name}" is published; funnelsync sends all its data variables`)
        : // Loops refuses a send that lacks a required variable; one marked optional in the template would pass.
          fail(`loops: transactional e-mail ${id} "${email.name}" uses data variable${unsent.length === 1 ? "" : "s"} ${unsent.join(", ")}, which funnelsync never sends (map a field to it)`),
    );
  }
}

export function formatCheck(check: Check): string {
  return `${check.ok ? "✓" : "✗"} ${check.what}`;
}

export function summarizeChecks(checks: Check[]): string {
  const failed = checks.filter((c) => !c.ok).length;
  return failed === 0 ? `config check: all ${checks.length} checks passed` : `config check: ${failed} of ${checks.length} checks failed`;
}
