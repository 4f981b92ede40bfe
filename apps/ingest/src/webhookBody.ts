import type { IncomingMessage } from "node:http";
import { parse as parseContentType } from "content-type";
import getRawBody from "raw-body";
import { KOMMO_WEBHOOK_LIMITS } from "@funnelsync/kommo-client/webhook";
import { STATUS_FOR } from "./ingestOutcome";

/**
 * The one limit set for every webhook body on every route (see `KOMMO_WEBHOOK_LIMITS`), plus how
 * long a sender may take to deliver it: Kommo gives up after 2 s, so 10 s only cuts off trickling
 * connections, long before Node's own 300 s.
 */
export const WEBHOOK_BODY_LIMITS = { ...KOMMO_WEBHOOK_LIMITS, timeoutMs: 10_000 } as const;

/** Why a body was refused, the metric's `outcome` label; each has its HTTP status. */
export type BodyRejection = "tooLarge" | "unsupportedMediaType" | "malformed" | "bodyTimeout";

/** A body ingest refuses before doing any work that grows with it. */
export class WebhookBodyError extends Error {
  constructor(
    message: string,
    readonly rejection: BodyRejection,
  ) {
    super(message);
    this.name = "WebhookBodyError";
  }

  /** The HTTP answer. */
  get status(): number {
    return STATUS_FOR[this.rejection];
  }
}

/** The body's media type without parameters (`charset` may follow), lower-cased; undefined when absent or unparsable. */
export function mediaTypeOf(req: IncomingMessage): string | undefined {
  const header = req.headers["content-type"];
  if (!header) return undefined;
  try {
    return parseContentType(header).type;
  } catch {
    return undefined;
  }
}

/**
 * The raw body, read only when it is uncompressed (none of the three vendors compresses its
 * webhooks; Kommo, Moosend and Loops document no `Content-Encoding`), within the byte limit and the
 * body timeout. `mediaTypes`, when given, must contain the body's exact media type.
 */
export async function readWebhookBody(req: IncomingMessage, options: { mediaTypes?: readonly string[]; timeoutMs?: number } = {}): Promise<Buffer> {
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase();
  if (encoding !== "identity") throw new WebhookBodyError(`unsupported content encoding "${encoding}"`, "unsupportedMediaType");
  if (options.mediaTypes && !options.mediaTypes.includes(mediaTypeOf(req) ?? "")) {
    throw new WebhookBodyError(`unsupported content type (expected ${options.mediaTypes.join(" or ")})`, "unsupportedMediaType");
  }
  const timeoutMs = options.timeoutMs ?? WEBHOOK_BODY_LIMITS.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      req.pause();
      reject(new WebhookBodyError(`body not received within ${timeoutMs / 1000} s`, "bodyTimeout"));
    }, timeoutMs);
  });
  try {
    return await Promise.race([getRawBody(req, { length: req.headers["content-length"], limit: WEBHOOK_BODY_LIMITS.bytes }), slow]);
  } catch (err) {
    if (err instanceof WebhookBodyError) throw err;
    const type = (err as { type?: string }).type;
    if (type === "entity.too.large") throw new WebhookBodyError(`body too large (limit ${WEBHOOK_BODY_LIMITS.bytes})`, "tooLarge");
    throw new WebhookBodyError("body could not be read", "malformed");
  } finally {
    clearTimeout(timer);
    slow.catch(() => undefined);
  }
}

/**
 * JSON held to the limit set: one pass over the text counts values and nesting (outside strings)
 * before `JSON.parse` builds anything, so an oversized or deeply nested body costs one scan.
 */
export function parseLimitedJson(text: string): unknown {
  const { parameters, depth: maxDepth } = WEBHOOK_BODY_LIMITS;
  let depth = 0;
  let values = 1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      // Levels below the top, as a form key counts its brackets: `{"leads":{…}}` is one.
      if (++depth - 1 > maxDepth) throw new WebhookBodyError(`nested deeper than ${maxDepth} levels`, "tooLarge");
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
    } else if (c === 44 /* , */ && ++values > parameters) {
      throw new WebhookBodyError(`more than ${parameters} values`, "tooLarge");
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new WebhookBodyError("body is not valid JSON", "malformed");
  }
}
