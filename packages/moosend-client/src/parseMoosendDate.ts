const DOTNET_DATE = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/;

/**
 * Moosend's .NET dates, `/Date(1465379934028)/` or `/Date(1461777152597+0100)/`. The number is UTC
 * milliseconds either way; the offset only names the account's time zone, so it is not applied.
 * ISO strings are accepted too; anything else is null.
 * @see https://doc.sitecore.com/send/en/developers/api-documentation/get-subscriber-by-email-address.html
 */
export function parseMoosendDate(value: unknown): Date | null {
  if (typeof value !== "string" || value === "") return null;
  const match = DOTNET_DATE.exec(value.trim());
  const ms = match ? Number(match[1]) : Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms) : null;
}
