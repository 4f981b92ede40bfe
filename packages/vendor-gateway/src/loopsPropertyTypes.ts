import type { LoopsClient, LoopsPropertyValue } from "@funnelsync/loops-client";
import { Refreshing } from "./refreshing";

const TTL_MS = 10 * 60 * 1000;

/**
 * Kommo hands every custom field value over as text or a number; Loops rejects a value of the wrong
 * type for a property. Values are converted to each property's declared type.
 */
export class LoopsPropertyTypes {
  private readonly types: Refreshing<Map<string, string>>;

  constructor(loops: LoopsClient, now?: () => number) {
    this.types = new Refreshing(async () => new Map((await loops.getContactProperties()).map((p) => [p.key, p.type])), TTL_MS, now);
  }

  async coerce(properties: Record<string, LoopsPropertyValue>): Promise<Record<string, LoopsPropertyValue>> {
    const types = await this.types.get();
    const out: Record<string, LoopsPropertyValue> = {};
    for (const [key, value] of Object.entries(properties)) out[key] = convert(value, types.get(key));
    return out;
  }
}

function convert(value: LoopsPropertyValue, type: string | undefined): LoopsPropertyValue {
  if (value === null || value === "") return null;
  switch (type) {
    case "number": {
      const number = typeof value === "number" ? value : Number(String(value).replace(",", "."));
      return Number.isFinite(number) ? number : null;
    }
    case "boolean":
      return typeof value === "boolean" ? value : ["1", "true", "yes"].includes(String(value).toLowerCase());
    case "string":
      return String(value);
    default:
      return value;
  }
}
