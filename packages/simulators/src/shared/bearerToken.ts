import type { Request } from "express";

/** The token of an `Authorization: Bearer …` header, or undefined for any other header or none. */
export function bearerToken(req: Request): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(req.get("authorization") ?? "")?.[1];
}
