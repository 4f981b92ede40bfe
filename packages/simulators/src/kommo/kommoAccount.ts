import { SEED } from "../seed";
import type { KommoEventLog } from "./kommoEvents";
import {
  KOMMO_SIM_ENUMS,
  KOMMO_SIM_FIELDS,
  emailValues,
  type KommoSimContact,
  type KommoSimEmail,
  type KommoSimFieldValue,
  type KommoSimLead,
  type KommoSimPipeline,
  type KommoSimState,
  type KommoSimWebhook,
  type KommoWebhookSetting,
} from "./kommoState";
import { contactHookItem, hookBody, leadHookItem } from "./kommoWebhooks";
import type { KommoHook, KommoWebhookSender } from "./kommoWebhookSender";

/** The custom fields a new or edited contact gets: e-mails, phone, company and opt-in. */
export interface KommoContactFieldsInput {
  email?: string;
  /** Several EMAIL values; a bare address is WORK when first, PRIV after. */
  emails?: Array<string | KommoSimEmail>;
  phone?: string;
  company?: string;
  optIn?: boolean;
}

export interface KommoSimContactInput extends KommoContactFieldsInput {
  id?: number;
  name: string;
}

/**
 * A simulated account: its state, events feed and clock, and the state changes that the test controls
 * and the API share, each with its entry in the feed; `webhooks` sends what a change announces.
 */
export class KommoAccount {
  /** Who makes the changes: the account's one user. */
  readonly by = SEED.kommo.responsibleUserId;

  constructor(
    readonly state: KommoSimState,
    readonly events: KommoEventLog,
    readonly nowSec: () => number,
    readonly webhooks: KommoWebhookSender,
  ) {}

  /** `update_lead`, preceded by `status_lead` when the lead moved; both carry `old_status_id` then. */
  leadEvents(lead: KommoSimLead, oldStatusId: number | undefined): KommoHook[] {
    const { state } = this;
    if (oldStatusId === undefined) return [["update_lead", hookBody(state, "leads", "update", leadHookItem(state, lead))]];
    return [
      ["status_lead", hookBody(state, "leads", "status", leadHookItem(state, lead, { oldStatusId }))],
      ["update_lead", hookBody(state, "leads", "update", leadHookItem(state, lead, { oldStatusId }))],
    ];
  }

  contactEvent(contact: KommoSimContact, action: "add" | "update"): KommoHook {
    const event: KommoWebhookSetting = action === "add" ? "add_contact" : "update_contact";
    return [event, hookBody(this.state, "contacts", action, contactHookItem(this.state, contact))];
  }

  pipelineOf(id: number): KommoSimPipeline {
    const pipeline = this.state.pipelines.find((p) => p.id === id);
    if (!pipeline) throw new Error(`kommo simulator: no pipeline ${id}`);
    return pipeline;
  }

  setStatus(lead: KommoSimLead, statusId: number, pipelineId: number): void {
    this.events.leadStatus(lead.id, { statusId, pipelineId }, { statusId: lead.statusId, pipelineId: lead.pipelineId }, this.by);
    lead.pipelineId = pipelineId;
    lead.statusId = statusId;
    lead.closedAt = statusId === 142 || statusId === 143 ? this.nowSec() : null;
  }

  contactFields(input: KommoContactFieldsInput): KommoSimFieldValue[] {
    const fields: KommoSimFieldValue[] = [];
    const emails = input.emails ?? (input.email !== undefined ? [input.email] : []);
    if (emails.length) fields.push(emailValues(emails));
    if (input.phone) fields.push({ fieldId: KOMMO_SIM_FIELDS.phone, values: [{ value: input.phone, enumId: KOMMO_SIM_ENUMS.phone.WORK, enumCode: "WORK" }] });
    if (input.company !== undefined) fields.push({ fieldId: KOMMO_SIM_FIELDS.company, values: [{ value: input.company }] });
    if (input.optIn !== undefined) fields.push({ fieldId: KOMMO_SIM_FIELDS.optIn, values: [{ value: input.optIn }] });
    return fields;
  }

  createContact(input: KommoSimContactInput): KommoSimContact {
    const { state } = this;
    const id = input.id ?? state.nextId.contact++;
    if (state.contacts.has(id)) throw new Error(`kommo simulator: contact ${id} exists`);
    const [firstName = "", ...rest] = input.name.split(" ");
    const t = this.nowSec();
    const contact: KommoSimContact = {
      id, name: input.name, firstName, lastName: rest.join(" "), responsibleUserId: SEED.kommo.responsibleUserId,
      createdAt: t, updatedAt: t, isDeleted: false, customFields: this.contactFields(input), tags: [],
    };
    state.contacts.set(id, contact);
    this.events.record("contact_added", { type: "contact", id }, { by: this.by });
    return contact;
  }

  requireLead(id: number): KommoSimLead {
    const lead = this.state.leads.get(id);
    if (!lead || lead.isDeleted) throw new Error(`kommo simulator: no lead ${id}`);
    return lead;
  }

  requireContact(id: number): KommoSimContact {
    const contact = this.state.contacts.get(id);
    if (!contact || contact.isDeleted) throw new Error(`kommo simulator: no contact ${id}`);
    return contact;
  }

  addWebhook(destination: string, settings: KommoWebhookSetting[]): KommoSimWebhook {
    const t = this.nowSec();
    const hook: KommoSimWebhook = { id: this.state.nextId.webhook++, destination, settings: [...settings], disabled: false, createdAt: t, updatedAt: t, invalidAt: [] };
    this.state.webhooks.push(hook);
    return hook;
  }
}
