import { SEED, encodeKommoWebhook, type KommoSimulator } from "@funnelsync/simulators";

/** A lead seeded in the Kommo simulator with a main contact that has an e-mail, Company and Budget. */
export interface BenchLead {
  leadId: number;
  contactId: number;
  email: string;
}

export const PIPELINE_ID = SEED.kommo.pipelineId;
export const STATUS = { newLead: 6001, nurture: 6002 } as const;

/**
 * Creates `count` leads in stage "New lead", each with its own contact, straight in the simulator:
 * no webhook is registered, so nothing is delivered and no API request is counted.
 */
export async function seedLeads(kommo: KommoSimulator, count: number, options: { idBase: number; tag: string }): Promise<BenchLead[]> {
  if (kommo.state.webhooks.length > 0) throw new Error("bench: seed leads before any Kommo webhook is registered");
  const leads: BenchLead[] = [];
  for (let i = 0; i < count; i++) {
    const leadId = options.idBase + i;
    const contactId = options.idBase + 5_000_000 + i;
    const email = `bench-${options.tag}-${i}@example.test`;
    await kommo.addLead({
      id: leadId,
      name: `Bench lead ${i}`,
      pipelineId: PIPELINE_ID,
      statusId: STATUS.newLead,
      budget: 1000 + (i % 50) * 100,
      contact: { id: contactId, name: `Bench Person${i}`, email, company: `Company ${i % 97}`, optIn: true },
    });
    leads.push({ leadId, contactId, email });
  }
  return leads;
}

interface LeadFacts {
  id: number;
  name: string;
  statusId: number;
  oldStatusId: number;
  pipelineId: number;
  price: number | null;
  createdAt: number;
  updatedAt: number;
  budget?: string;
}

/**
 * The form-encoded body of Kommo's `leads[status]` webhook (API v2 format, PHP bracket keys) for one
 * move, with the fields a real delivery carries, so ingest parses a body of realistic size.
 */
export function stageChangeBody(lead: LeadFacts): string {
  const { accountId, subdomain, responsibleUserId } = SEED.kommo;
  return encodeKommoWebhook({
    leads: {
      status: [
        {
          id: lead.id,
          name: lead.name,
          status_id: lead.statusId,
          old_status_id: lead.oldStatusId,
          ...(lead.price !== null && { price: lead.price }),
          responsible_user_id: responsibleUserId,
          last_modified: lead.updatedAt,
          modified_user_id: responsibleUserId,
          created_user_id: responsibleUserId,
          date_create: lead.createdAt,
          pipeline_id: lead.pipelineId,
          account_id: accountId,
          custom_fields: lead.budget === undefined ? undefined : [{ id: SEED.kommo.fields.budget, name: "Budget", values: [{ value: lead.budget }] }],
          created_at: lead.createdAt,
          updated_at: lead.updatedAt,
        },
      ],
    },
    account: { subdomain, id: accountId, _links: { self: `https://${subdomain}.amocrm.com` } },
  });
}

/**
 * Moves the lead in the simulator (no webhook is registered, so the simulator delivers nothing) and
 * returns the webhook body Kommo would send for that move, for the bench to POST and time itself.
 */
export async function moveLead(kommo: KommoSimulator, leadId: number, statusId: number): Promise<string> {
  const oldStatusId = kommo.lead(leadId)!.statusId;
  const lead = await kommo.moveLead(leadId, statusId);
  const budget = kommo.fieldValues(lead, SEED.kommo.fields.budget)[0];
  return stageChangeBody({ ...lead, oldStatusId, budget: budget === undefined ? undefined : String(budget) });
}
