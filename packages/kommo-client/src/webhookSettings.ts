/** The Kommo webhook settings funnelsync acts on: leads added, moved, edited and deleted, contacts added and edited. */
export const FUNNELSYNC_WEBHOOK_SETTINGS = ["add_lead", "update_lead", "status_lead", "delete_lead", "add_contact", "update_contact"] as const;
