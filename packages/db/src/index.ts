export { createDb, type Db } from "./createDb";
export type { ConsentEventRow, ConsentRepository, ConsentRow, SetConsentInput } from "./consent";
export type { EventRepository, ReceivedEventRow, RecordEventInput } from "./events";
export type { ContactLinkRepository, ContactLinkRow, UpsertContactLinkInput } from "./links";
export type { AddMembershipInput, MembershipRepository } from "./memberships";
export type { OutcomeFilter, OutcomeInput, OutcomeRepository, OutcomeRow } from "./outcomes";
export type { ConsentState, OutcomeStatus, OutcomeVendor, Source } from "./types";
export type { WatermarkRepository } from "./watermarks";
export type { EngagementKind, EngagementMarkRow, EngagementRepository, EngagementRow, RecordEngagementInput } from "./engagements";
