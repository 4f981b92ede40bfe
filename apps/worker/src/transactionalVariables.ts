import type { Mapping } from "@funnelsync/config";
import type { LoopsPropertyValue } from "@funnelsync/loops-client";

/** What every transactional e-mail carries besides the mapped Loops properties. */
const PERSON_AND_DEAL = ["firstName", "name", "dealValue"] as const;

/**
 * A transactional e-mail's data variables: every mapped Loops property (a template may use any,
 * e.g. `company`; an empty one is sent as "") plus the person and the deal value.
 */
export function transactionalVariables(
  properties: Record<string, LoopsPropertyValue>,
  person: { firstName: string; name: string; dealValue: number },
): Record<string, string | number> {
  const mapped = Object.fromEntries(Object.entries(properties).map(([name, value]) => [name, value ?? ""]));
  return { ...mapped, ...person } as Record<string, string | number>;
}

/** The names `transactionalVariables` fills under this mapping, for `config check` to hold templates against. */
export function transactionalVariableNames(mapping: Mapping): string[] {
  return [...new Set([...mapping.fields.flatMap((f) => (f.loops ? [f.loops] : [])), ...PERSON_AND_DEAL])];
}
