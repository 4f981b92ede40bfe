import { SEED } from "../seed";
import type { KommoAccount, KommoSimContactInput } from "./kommoAccount";
import { snapshotFields } from "./kommoEvents";
import { mergeContacts } from "./kommoMerge";
import {
  KOMMO_SIM_FIELDS,
  type KommoEntityType,
  type KommoSimContact,
  type KommoSimEmail,
  type KommoSimFieldValue,
  type KommoSimLead,
  type KommoSimNote,
  type KommoSimTask,
  type KommoSimWebhook,
  type KommoWebhookSetting,
} from "./kommoState";
import { companyHookItem, contactHookItem, hookBody, leadHookItem, noteHookItem, taskHookItem } from "./kommoWebhooks";
import type { KommoHook } from "./kommoWebhookSender";
import { setFieldValues } from "./kommoWire";

export interface KommoSimLeadInput {
  id?: number;
  name?: string;
  /** Defaults to `budget`, else none. */
  price?: number | null;
  /** Default: the main pipeline. */
  pipelineId?: number;
  /** Default: the pipeline's first stage. */
  statusId?: number;
  /** An existing contact to link as main… */
  contactId?: number;
  /** …or one to create with the lead… */
  contact?: KommoSimContactInput;
  /** …or just its e-mail. */
  email?: string;
  /** The "Budget" custom field (770002). */
  budget?: number;
}

export interface KommoSimContactChange {
  name?: string;
  email?: string;
  /** Replaces every EMAIL value (adds, removes or re-types addresses). */
  emails?: Array<string | KommoSimEmail>;
  company?: string;
  optIn?: boolean;
}

/** What a user does in Kommo's UI, for tests, the demo and benchmarks; no API request is counted. */
export interface KommoTestControls {
  /** Creates a contact as a user would, and fires `add_contact`. */
  addContact(input: KommoSimContactInput): Promise<KommoSimContact>;
  /** Creates a lead (and its contact if asked), and fires `add_lead` (and `add_contact`). */
  addLead(input?: KommoSimLeadInput): Promise<KommoSimLead>;
  /** Moves a lead as a user would: fires `status_lead`, then `update_lead` carrying `old_status_id`. */
  moveLead(leadId: number, statusId: number, pipelineId?: number): Promise<KommoSimLead>;
  /** Edits a contact in the UI and fires `update_contact`. */
  updateContact(contactId: number, change: KommoSimContactChange): Promise<KommoSimContact>;
  /** Edits several contacts at once (a mass action) and fires ONE `update_contact` carrying them all. */
  updateContacts(changes: Array<KommoSimContactChange & { contactId: number }>): Promise<KommoSimContact[]>;
  /** Deletes a lead and fires `delete_lead`. */
  deleteLead(leadId: number): Promise<void>;
  /** Creates a company in the UI and fires `add_company` (a `contacts[add]` item with `type=company`). */
  addCompany(name: string): Promise<{ id: number }>;
  /** Creates a task on a lead in the UI and fires `add_task`. */
  addTask(leadId: number, text: string): Promise<KommoSimTask>;
  /** Adds a note to a lead in the UI and fires `note_lead`. */
  addNote(leadId: number, text: string): Promise<KommoSimNote>;
  /** Deletes a contact as a user would, and fires `delete_contact`. */
  deleteContact(contactId: number): Promise<void>;
  /** Merges a duplicate into the survivor as Kommo's duplicate control does (see `kommoMerge.ts`). */
  mergeContacts(survivorId: number, loserId: number): Promise<void>;
  /** Registers a webhook as the admin UI would (no API request counted). */
  addWebhook(destination: string, settings: KommoWebhookSetting[]): KommoSimWebhook;
  notesFor(entityType: KommoEntityType, id: number): KommoSimNote[];
  tasksFor(entityType: KommoEntityType, id: number): KommoSimTask[];
  contact(id: number): KommoSimContact | undefined;
  lead(id: number): KommoSimLead | undefined;
  /** A field's values on an entity (booleans for checkboxes, numeric fields as strings). */
  fieldValues(entity: { customFields: KommoSimFieldValue[] }, fieldId: number): Array<string | number | boolean>;
}

/** The test controls of one account; each waits for the webhooks its change fires. */
export function kommoTestControls(account: KommoAccount): KommoTestControls {
  const { state, events, nowSec, by } = account;
  const fire = (hooks: KommoHook[]) => account.webhooks.send(hooks);
  let nextCompanyId = 70000001;

  async function updateContacts(changes: Array<KommoSimContactChange & { contactId: number }>): Promise<KommoSimContact[]> {
    const contacts = changes.map(({ contactId, ...change }) => {
      const contact = account.requireContact(contactId);
      if (change.name !== undefined) contact.name = change.name;
      const fieldsBefore = snapshotFields(contact.customFields);
      for (const update of account.contactFields({ email: change.email, emails: change.emails, company: change.company, optIn: change.optIn })) setFieldValues(contact, update);
      events.fieldChanges({ type: "contact", id: contact.id }, fieldsBefore, contact.customFields, by);
      contact.updatedAt = nowSec();
      return contact;
    });
    await fire([["update_contact", hookBody(state, "contacts", "update", contacts.map((contact) => contactHookItem(state, contact)))]]);
    return contacts;
  }

  return {
    async addContact(input) {
      const contact = account.createContact(input);
      await fire([account.contactEvent(contact, "add")]);
      return contact;
    },

    async addLead(input = {}) {
      const pipeline = account.pipelineOf(input.pipelineId ?? SEED.kommo.pipelineId);
      const statusId = input.statusId ?? pipeline.statuses[0]!.id;
      if (!pipeline.statuses.some((s) => s.id === statusId)) throw new Error(`kommo simulator: pipeline ${pipeline.id} has no status ${statusId}`);
      let newContact: KommoSimContact | undefined;
      if (input.contactId === undefined && (input.contact || input.email !== undefined)) {
        newContact = account.createContact(input.contact ?? { name: input.email!.split("@")[0]!, email: input.email });
      }
      const contactId = input.contactId ?? newContact?.id;
      if (contactId !== undefined) account.requireContact(contactId);
      const id = input.id ?? state.nextId.lead++;
      if (state.leads.has(id)) throw new Error(`kommo simulator: lead ${id} exists`);
      const t = nowSec();
      const lead: KommoSimLead = {
        id, name: input.name ?? `Lead #${id}`, price: input.price !== undefined ? input.price : (input.budget ?? null),
        responsibleUserId: SEED.kommo.responsibleUserId, pipelineId: pipeline.id, statusId, createdAt: t, updatedAt: t,
        closedAt: statusId === 142 || statusId === 143 ? t : null, isDeleted: false,
        customFields: input.budget === undefined ? [] : [{ fieldId: KOMMO_SIM_FIELDS.budget, values: [{ value: String(input.budget) }] }],
        tags: [], contacts: contactId === undefined ? [] : [{ id: contactId, isMain: true }],
      };
      state.leads.set(id, lead);
      events.leadStatus(id, { statusId, pipelineId: pipeline.id }, null, by);
      await fire([
        ["add_lead", hookBody(state, "leads", "add", leadHookItem(state, lead))],
        ...(newContact ? [account.contactEvent(newContact, "add")] : []),
      ]);
      return lead;
    },

    async moveLead(leadId, statusId, pipelineId) {
      const lead = account.requireLead(leadId);
      const pipeline = account.pipelineOf(pipelineId ?? lead.pipelineId);
      if (!pipeline.statuses.some((s) => s.id === statusId)) throw new Error(`kommo simulator: pipeline ${pipeline.id} has no status ${statusId}`);
      const oldStatusId = lead.statusId;
      account.setStatus(lead, statusId, pipeline.id);
      lead.updatedAt = nowSec();
      await fire(account.leadEvents(lead, oldStatusId));
      return lead;
    },

    updateContact: async (contactId, change) => (await updateContacts([{ contactId, ...change }]))[0]!,
    updateContacts,

    async deleteLead(leadId) {
      const lead = account.requireLead(leadId);
      lead.isDeleted = true;
      lead.updatedAt = nowSec();
      events.record("lead_deleted", { type: "lead", id: lead.id }, { by });
      await fire([["delete_lead", hookBody(state, "leads", "delete", { id: lead.id, status_id: lead.statusId, pipeline_id: lead.pipelineId })]]);
    },

    async addCompany(name) {
      const company = { id: nextCompanyId++, name, createdAt: nowSec() };
      await fire([["add_company", hookBody(state, "contacts", "add", companyHookItem(state, company))]]);
      return { id: company.id };
    },

    async addTask(leadId, text) {
      account.requireLead(leadId);
      const t = nowSec();
      const task: KommoSimTask = {
        id: state.nextId.task++, entityType: "leads", entityId: leadId, text, completeTill: t + 86_400, taskTypeId: 1,
        responsibleUserId: SEED.kommo.responsibleUserId, isCompleted: false, createdAt: t,
      };
      state.tasks.push(task);
      await fire([["add_task", hookBody(state, "task", "add", taskHookItem(state, task))]]);
      return task;
    },

    async addNote(leadId, text) {
      account.requireLead(leadId);
      const note: KommoSimNote = { id: state.nextId.note++, entityType: "leads", entityId: leadId, noteType: "common", params: { text }, createdAt: nowSec() };
      state.notes.push(note);
      await fire([["note_lead", hookBody(state, "leads", "note", noteHookItem(state, note))]]);
      return note;
    },

    async deleteContact(contactId) {
      const contact = account.requireContact(contactId);
      contact.isDeleted = true;
      contact.updatedAt = nowSec();
      events.record("contact_deleted", { type: "contact", id: contact.id }, { by });
      await fire([["delete_contact", hookBody(state, "contacts", "delete", { id: contact.id, type: "contact" })]]);
    },

    async mergeContacts(survivorId, loserId) {
      await fire(mergeContacts(state, events, { survivorId, loserId }, { nowSec: nowSec(), by }));
    },

    addWebhook: (destination, settings) => account.addWebhook(destination, settings),
    notesFor: (entityType, id) => state.notes.filter((n) => n.entityType === entityType && n.entityId === id),
    tasksFor: (entityType, id) => state.tasks.filter((t) => t.entityType === entityType && t.entityId === id),
    contact: (id) => state.contacts.get(id),
    lead: (id) => state.leads.get(id),
    fieldValues: (entity, fieldId) => entity.customFields.find((f) => f.fieldId === fieldId)?.values.map((v) => v.value) ?? [],
  };
}
