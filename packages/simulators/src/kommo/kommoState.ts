import { SEED } from "../seed";

export type KommoEntityType = "leads" | "contacts";
export type KommoFieldType = "text" | "numeric" | "checkbox" | "multitext" | "date";

export interface KommoSimFieldDef {
  id: number;
  name: string;
  type: KommoFieldType;
  /** `EMAIL` / `PHONE` for the built-in contact fields, null for the account's own. */
  code: string | null;
  entityType: KommoEntityType;
  enums?: Array<{ id: number; value: string }>;
}

export interface KommoSimValue {
  /** Stored as Kommo answers it: numeric fields as strings, checkboxes as booleans, dates as unix seconds. */
  value: string | number | boolean;
  enumId?: number;
  enumCode?: string;
}

export interface KommoSimFieldValue {
  fieldId: number;
  values: KommoSimValue[];
}

export interface KommoSimTag {
  id: number;
  name: string;
}

export interface KommoSimContact {
  id: number;
  name: string;
  firstName: string;
  lastName: string;
  responsibleUserId: number;
  createdAt: number;
  updatedAt: number;
  isDeleted: boolean;
  customFields: KommoSimFieldValue[];
  tags: KommoSimTag[];
}

export interface KommoSimLead {
  id: number;
  name: string;
  price: number | null;
  responsibleUserId: number;
  pipelineId: number;
  statusId: number;
  createdAt: number;
  updatedAt: number;
  closedAt: number | null;
  isDeleted: boolean;
  customFields: KommoSimFieldValue[];
  tags: KommoSimTag[];
  contacts: Array<{ id: number; isMain: boolean }>;
}

export interface KommoSimNote {
  id: number;
  entityType: KommoEntityType;
  entityId: number;
  noteType: string;
  params: Record<string, unknown>;
  createdAt: number;
  /** Set when the note is edited (`PATCH /{entity}/notes`); else its creation time. */
  updatedAt?: number;
}

export interface KommoSimTask {
  id: number;
  entityType: KommoEntityType | null;
  entityId: number | null;
  text: string;
  completeTill: number;
  taskTypeId: number;
  responsibleUserId: number;
  isCompleted: boolean;
  createdAt: number;
}

export type KommoWebhookSetting =
  | "add_lead"
  | "update_lead"
  | "status_lead"
  | "delete_lead"
  | "note_lead"
  | "add_contact"
  | "update_contact"
  | "delete_contact"
  | "note_contact"
  | "add_company"
  | "update_company"
  | "delete_company"
  | "note_company"
  | "add_task"
  | "update_task"
  | "delete_task";

export const KOMMO_WEBHOOK_SETTINGS: readonly KommoWebhookSetting[] = [
  "add_lead",
  "update_lead",
  "status_lead",
  "delete_lead",
  "note_lead",
  "add_contact",
  "update_contact",
  "delete_contact",
  "note_contact",
  "add_company",
  "update_company",
  "delete_company",
  "note_company",
  "add_task",
  "update_task",
  "delete_task",
];

export interface KommoSimWebhook {
  id: number;
  destination: string;
  settings: KommoWebhookSetting[];
  /** Kommo disables a hook after > 100 invalid answers in 2 h, and on an IP block. */
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
  /** When deliveries got an invalid answer (ms), for the auto-disable rule. */
  invalidAt: number[];
}

export interface KommoSimDelivery {
  webhookId: number;
  destination: string;
  /** The setting that fired it, e.g. `status_lead`. */
  event: KommoWebhookSetting;
  /** The form-encoded body as sent. */
  body: string;
  /** The receiver's HTTP status, or why there was none. */
  status: number | "timeout" | "error";
  /** Kommo counts 100–299 as delivered; anything else, a timeout included, is invalid. */
  ok: boolean;
  at: number;
  durationMs: number;
}

export interface KommoSimPipeline {
  id: number;
  name: string;
  isMain: boolean;
  statuses: Array<{ id: number; name: string; sort: number; color: string }>;
}

export interface KommoSimState {
  account: { id: number; subdomain: string; name: string };
  /** The one token the API accepts; change it to simulate a revoked or expired token. */
  accessToken: string;
  pipelines: KommoSimPipeline[];
  fields: KommoSimFieldDef[];
  contacts: Map<number, KommoSimContact>;
  leads: Map<number, KommoSimLead>;
  notes: KommoSimNote[];
  tasks: KommoSimTask[];
  webhooks: KommoSimWebhook[];
  deliveries: KommoSimDelivery[];
  tags: Record<KommoEntityType, KommoSimTag[]>;
  /** Until when (ms) every request gets 403 after too many 429s; 0 = not blocked, Infinity = until support lifts it. */
  blockedUntil: number;
  /** When the 429s of the current block window were sent (ms). */
  recent429s: number[];
  nextId: { contact: number; lead: number; note: number; task: number; webhook: number; tag: number };
}

/** Field ids of the account; EMAIL and PHONE are Kommo's built-in contact fields. */
export const KOMMO_SIM_FIELDS = {
  ...SEED.kommo.fields,
  phone: 700001,
  email: 700003,
  closeDate: 770004,
} as const;

export const KOMMO_SIM_ENUMS = {
  email: { WORK: 800001, PRIV: 800002, OTHER: 800003 },
  phone: { WORK: 800011, MOB: 800012, OTHER: 800013 },
} as const;

/** Ids of the seeded contacts and leads (8 digits, like production ids). */
export const KOMMO_SIM_SEEDED = {
  pipelines: { sales: SEED.kommo.pipelineId, partners: 5002 },
  statuses: { newLead: 6001, nurture: 6002, won: 142, lost: 143, partnerIncoming: 6101, partnerQualified: 6102 },
  fields: KOMMO_SIM_FIELDS,
  contacts: {
    /** ana@example.test, company Acme, opted in. */
    ana: 20000001,
    /** Two e-mails: bruno@example.test and bruno.lima@work.example.test. */
    bruno: 20000002,
    /** No e-mail at all (phone only). */
    carla: 20000003,
    diego: 20000004,
    /** joana@example.test, which contains "ana@example.test": a fuzzy `query` for Ana finds her too. */
    joana: 20000005,
  },
  leads: {
    anaWebsite: 30000001,
    brunoReferral: 30000002,
    carlaInbound: 30000003,
    diegoRenewal: 30000004,
    joanaTrial: 30000005,
    anaPartner: 30000006,
  },
} as const;

function fieldDefs(): KommoSimFieldDef[] {
  const { fields } = SEED.kommo;
  const enumList = (enums: Record<string, number>) => Object.entries(enums).map(([value, id]) => ({ id, value }));
  return [
    { id: KOMMO_SIM_FIELDS.phone, name: "Phone", type: "multitext", code: "PHONE", entityType: "contacts", enums: enumList(KOMMO_SIM_ENUMS.phone) },
    { id: KOMMO_SIM_FIELDS.email, name: "Email", type: "multitext", code: "EMAIL", entityType: "contacts", enums: enumList(KOMMO_SIM_ENUMS.email) },
    { id: fields.company, name: "Company", type: "text", code: null, entityType: "contacts" },
    { id: fields.optIn, name: "Email opt-in", type: "checkbox", code: null, entityType: "contacts" },
    { id: fields.lastEngagement, name: "Last e-mail engagement", type: "date", code: null, entityType: "contacts" },
    { id: fields.budget, name: "Budget", type: "numeric", code: null, entityType: "leads" },
    { id: fields.emailScore, name: "E-mail score", type: "numeric", code: null, entityType: "leads" },
    { id: KOMMO_SIM_FIELDS.closeDate, name: "Close date", type: "date", code: null, entityType: "leads" },
  ];
}

function pipelines(): KommoSimPipeline[] {
  const colors = ["#99ccff", "#ffff99", "#CCFF66", "#D5D8DB"];
  return [
    {
      id: SEED.kommo.pipelineId,
      name: "Sales",
      isMain: true,
      statuses: SEED.kommo.statuses.map((s, i) => ({ id: s.id, name: s.name, sort: (i + 1) * 10, color: colors[i] ?? "#99ccff" })),
    },
    {
      id: KOMMO_SIM_SEEDED.pipelines.partners,
      name: "Partners",
      isMain: false,
      statuses: [
        { id: 6101, name: "Incoming", sort: 10, color: "#99ccff" },
        { id: 6102, name: "Qualified", sort: 20, color: "#ffff99" },
        { id: 142, name: "Closed - won", sort: 10000, color: "#CCFF66" },
        { id: 143, name: "Closed - lost", sort: 11000, color: "#D5D8DB" },
      ],
    },
  ];
}

/** One EMAIL value with its type, as Kommo's contact card offers them. */
export interface KommoSimEmail {
  value: string;
  enumCode: keyof typeof KOMMO_SIM_ENUMS.email;
}

/** EMAIL values; a bare address is typed WORK when it comes first, PRIV after. */
export function emailValues(emails: ReadonlyArray<string | KommoSimEmail>): KommoSimFieldValue {
  return {
    fieldId: KOMMO_SIM_FIELDS.email,
    values: emails.map((email, i) => {
      const { value, enumCode } = typeof email === "string" ? { value: email, enumCode: i === 0 ? ("WORK" as const) : ("PRIV" as const) } : email;
      return { value, enumId: KOMMO_SIM_ENUMS.email[enumCode], enumCode };
    }),
  };
}

/** An account with its pipelines and fields; with `seed`, also the contacts and leads of KOMMO_SIM_SEEDED. */
export function createKommoState(options: { accessToken: string; seed: boolean; nowSec: number }): KommoSimState {
  const state: KommoSimState = {
    account: { id: SEED.kommo.accountId, subdomain: SEED.kommo.subdomain, name: "Acme" },
    accessToken: options.accessToken,
    pipelines: pipelines(),
    fields: fieldDefs(),
    contacts: new Map(),
    leads: new Map(),
    notes: [],
    tasks: [],
    webhooks: [],
    deliveries: [],
    tags: { leads: [], contacts: [] },
    blockedUntil: 0,
    recent429s: [],
    nextId: { contact: 20000006, lead: 30000007, note: 40000001, task: 50000001, webhook: 1, tag: 60000001 },
  };
  if (!options.seed) return state;

  const { fields, responsibleUserId } = SEED.kommo;
  const t0 = options.nowSec - 86_400;
  const { contacts: c, leads: l, statuses: s, pipelines: p } = KOMMO_SIM_SEEDED;
  const contact = (id: number, name: string, customFields: KommoSimFieldValue[]): void => {
    const [firstName = "", ...rest] = name.split(" ");
    state.contacts.set(id, {
      id, name, firstName, lastName: rest.join(" "), responsibleUserId, createdAt: t0, updatedAt: t0 + (id % 100) * 60,
      isDeleted: false, customFields, tags: [],
    });
  };
  const text = (fieldId: number, value: string | boolean): KommoSimFieldValue => ({ fieldId, values: [{ value }] });
  const phone = (value: string): KommoSimFieldValue => ({
    fieldId: KOMMO_SIM_FIELDS.phone,
    values: [{ value, enumId: KOMMO_SIM_ENUMS.phone.MOB, enumCode: "MOB" }],
  });
  contact(c.ana, "Ana Souza", [emailValues(["ana@example.test"]), text(fields.company, "Acme"), text(fields.optIn, true)]);
  contact(c.bruno, "Bruno Lima", [emailValues(["bruno@example.test", "bruno.lima@work.example.test"]), phone("+5511990000002"), text(fields.company, "Lima & Co")]);
  contact(c.carla, "Carla Mendes", [phone("+5511990000003")]);
  contact(c.diego, "Diego Ramos", [emailValues(["Diego.Ramos@Example.test "]), text(fields.optIn, false)]);
  contact(c.joana, "Joana Prado", [emailValues(["joana@example.test"]), text(fields.company, "Prado Design")]);

  const lead = (id: number, name: string, pipelineId: number, statusId: number, mainContact: number, budget: number | null, extra: Array<{ id: number; isMain: boolean }> = []): void => {
    const customFields: KommoSimFieldValue[] = budget === null ? [] : [{ fieldId: fields.budget, values: [{ value: String(budget) }] }];
    const closed = statusId === 142 || statusId === 143;
    state.leads.set(id, {
      id, name, price: budget, responsibleUserId, pipelineId, statusId, createdAt: t0, updatedAt: t0 + (id % 100) * 120,
      closedAt: closed ? t0 + 3_600 : null, isDeleted: false, customFields, tags: [],
      contacts: [{ id: mainContact, isMain: true }, ...extra],
    });
  };
  lead(l.anaWebsite, "Ana — website form", p.sales, s.newLead, c.ana, 5000);
  state.leads.get(l.anaWebsite)!.customFields.push({ fieldId: KOMMO_SIM_FIELDS.closeDate, values: [{ value: t0 + 30 * 86_400 }] });
  lead(l.brunoReferral, "Bruno — referral", p.sales, s.nurture, c.bruno, 12000, [{ id: c.diego, isMain: false }]);
  lead(l.carlaInbound, "Carla — inbound call", p.sales, s.newLead, c.carla, null);
  lead(l.diegoRenewal, "Diego — renewal", p.sales, s.won, c.diego, 8000);
  lead(l.joanaTrial, "Joana — trial", p.sales, s.lost, c.joana, null);
  lead(l.anaPartner, "Ana — partner deal", p.partners, s.partnerIncoming, c.ana, 20000);
  const vip: KommoSimTag = { id: state.nextId.tag++, name: "vip" };
  state.tags.leads.push(vip);
  state.leads.get(l.brunoReferral)!.tags.push(vip);
  const newsletter: KommoSimTag = { id: state.nextId.tag++, name: "newsletter" };
  state.tags.contacts.push(newsletter);
  state.contacts.get(c.ana)!.tags.push(newsletter);
  return state;
}
