/**
 * The small, realistic account every simulator starts with; the example mapping in contract.md
 * refers to these ids. Kommo ids in production are 7–8 digits, and so are these: small ids parse
 * differently under qs (see vendor-apis.md §1.8).
 */
export const SEED = {
  kommo: {
    accountId: 32720107,
    subdomain: "acme",
    pipelineId: 5001,
    statuses: [
      { id: 6001, name: "New lead" },
      { id: 6002, name: "Nurture" },
      { id: 142, name: "Closed - won" },
      { id: 143, name: "Closed - lost" },
    ],
    fields: { company: 770001, budget: 770002, optIn: 880001, lastEngagement: 880002, emailScore: 770003 },
    responsibleUserId: 11087123,
  },
  moosend: {
    lists: [
      { id: "0b6f5a1e-0000-4000-8000-000000000001", name: "New leads" },
      { id: "0b6f5a1e-0000-4000-8000-000000000002", name: "Nurture" },
      { id: "0b6f5a1e-0000-4000-8000-000000000003", name: "Customers" },
    ],
    customFields: ["Company", "Budget"],
  },
  loops: { properties: ["company", "budget"], transactionalIds: ["cm_welcome_01"] },
} as const;
