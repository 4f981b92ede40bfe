/** What became of one webhook delivery. Expected outcomes are values; each route maps them to a status. */
export type IngestOutcome =
  | { kind: "accepted"; jobIds: string[] }
  | { kind: "unauthenticated"; reason: string }
  | { kind: "notFound" }
  | { kind: "malformed"; reason: string }
  | { kind: "unavailable"; reason: string };

export const STATUS_FOR: Record<IngestOutcome["kind"], number> = {
  accepted: 200,
  unauthenticated: 401,
  notFound: 404,
  malformed: 400,
  unavailable: 503,
};
