import type { BodyRejection } from "./webhookBody";

/** What became of one webhook delivery. Expected outcomes are values; each route maps them to a status. */
export type IngestOutcome =
  | { kind: "accepted"; jobIds: string[] }
  /** A readable, authenticated delivery holding nothing we act on: a 2xx, or Kommo would count it invalid. */
  | { kind: "ignored"; reason: string }
  | { kind: "unauthenticated"; reason: string }
  | { kind: "notFound" }
  | { kind: BodyRejection; reason: string }
  | { kind: "unavailable"; reason: string };

/** Also the closed set of the `outcome` label of `funnelsync_webhooks_total`. */
export const STATUS_FOR: Record<IngestOutcome["kind"], number> = {
  accepted: 200,
  ignored: 200,
  unauthenticated: 401,
  notFound: 404,
  malformed: 400,
  bodyTimeout: 408,
  tooLarge: 413,
  unsupportedMediaType: 415,
  unavailable: 503,
};
