// The vocabulary of the tables. The columns are text; these unions are their allowed values.

/** A vendor that sends us events or owns a consent decision. */
export type Source = "kommo" | "moosend" | "loops";

/** The vendor a job step talks to; `none` for steps that only decide (e.g. a whole-job skip). */
export type OutcomeVendor = Source | "none";

export type OutcomeStatus = "succeeded" | "failed" | "skipped" | "running";

/** `erased`: the person asked to be forgotten; only a keyed hash of the address is kept (suppressions). */
export type ConsentState = "subscribed" | "unsubscribed" | "bounced" | "complained" | "erased";

/** Who set a consent state: a vendor, or the operator (`funnelsync forget`). */
export type ConsentSource = Source | "operator";
