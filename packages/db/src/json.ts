import { Prisma } from "./generated/prisma/client";

/**
 * What a Json column stores for `value`: plain JSON, as `JSON.stringify` would send it (dates become
 * strings, undefined fields vanish). `null` is stored as JSON null; SQL NULL is `Prisma.DbNull`.
 */
export function toJson(value: unknown): Prisma.InputJsonValue | typeof Prisma.JsonNull {
  const json: unknown = value === undefined ? null : JSON.parse(JSON.stringify(value) ?? "null");
  return json === null ? Prisma.JsonNull : (json as Prisma.InputJsonValue);
}
