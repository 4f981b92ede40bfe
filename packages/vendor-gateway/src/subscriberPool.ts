import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { MoosendSubscriber, MoosendSubscriberInput } from "@funnelsync/moosend-client";
import { VendorBlockedError, VendorError, VendorRateLimitError, isVendorError, isVendorRateLimitError } from "@funnelsync/vendor-http";
import { StepSkipped } from "./stepSkipped";

/** Who waits for an entry's answer: a process and its caller's token there. */
export interface Owner {
  process: string;
  token: string;
}

/** One address waiting for a list, with the latest fields any job gave it, and everyone waiting on it. */
export interface PooledEntry {
  email: string;
  input: MoosendSubscriberInput;
  owners: Owner[];
}

/** What an owner is told: the subscriber Moosend answered with, a skip with its reason, or an error. */
export type Answer = { token: string; status?: number } & ({ subscriber: MoosendSubscriber } | { skipped: string } | { error: WireError });

interface WireError {
  name: string;
  message: string;
  vendor?: string;
  status?: number;
  retryable?: boolean;
  retryAfterMs?: number;
}

type Message = { sending: string[]; by: string } | { answers: Answer[] };

/**
 * Adds an address to a list's pool or, if it is there already, gives it the latest fields and one
 * more owner. Returns the pool's size.
 */
const ADD = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
local entry
if existing then
  entry = cjson.decode(existing)
  entry.input = cjson.decode(ARGV[2])
  table.insert(entry.owners, cjson.decode(ARGV[3]))
else
  entry = { email = ARGV[1], input = cjson.decode(ARGV[2]), owners = { cjson.decode(ARGV[3]) } }
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
return redis.call('LLEN', KEYS[2])
`;

/**
 * Takes up to ARGV[1] entries, oldest first, for process ARGV[3], and tells each owner's process
 * which of its callers are now being sent and by whom (ARGV[2] is the answer channels' prefix), in
 * the same step: a caller whose entry was taken by a process that then stopped learns it.
 */
const TAKE = `
local emails = redis.call('LPOP', KEYS[2], tonumber(ARGV[1]))
if not emails then return {} end
local taken = {}
local sending = {}
for _, email in ipairs(emails) do
  local raw = redis.call('HGET', KEYS[1], email)
  if raw then
    redis.call('HDEL', KEYS[1], email)
    table.insert(taken, raw)
    for _, owner in ipairs(cjson.decode(raw).owners) do
      sending[owner.process] = sending[owner.process] or {}
      table.insert(sending[owner.process], owner.token)
    end
  end
end
for process, tokens in pairs(sending) do
  redis.call('PUBLISH', ARGV[2] .. process, cjson.encode({ sending = tokens, by = ARGV[3] }))
end
return taken
`;

/** Holds the list's drain for this process, or keeps holding it. 1 when held. */
const LEAD = `
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;

const RESIGN = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`;

export interface SubscriberPoolOptions {
  /** Commands. */
  redis: Redis;
  /** Namespaces the keys, like the BullMQ prefix (a hash tag keeps them on one Redis Cluster slot). */
  prefix: string;
  /** Longest a caller waits for its answer once its entry was taken: above the gate's wait, a call's timeout and its retries. */
  answerTimeoutMs?: number;
  /** How often a process says it is alive, and looks whether the processes sending its callers' entries are. */
  heartbeatMs?: number;
}

export interface Waiter {
  /** `status`: what Moosend answered the call that carried the subscriber. */
  resolve(value: MoosendSubscriber | StepSkipped, status?: number): void;
  /** The error says what the vendor answered, if it did. */
  reject(error: unknown): void;
}

/**
 * Subscribers waiting for Moosend, per list, shared by every worker process through Redis, so a
 * bulk call carries people from all of them: with each process batching only its own, a burst spread
 * over two processes filled each one's calls half as fast. One process at a time drains a list (its
 * `lead`), takes entries and sends the answers to their owners' processes (pub/sub).
 */
export class SubscriberPool {
  readonly process = randomUUID();
  private readonly subscriber: Redis;
  private readonly waiters = new Map<string, Waiter>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Callers whose entries another process took, by that process. */
  private readonly sentBy = new Map<string, Set<string>>();
  private readonly answerTimeoutMs: number;
  private readonly heartbeatMs: number;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly ready: Promise<unknown>;

  constructor(private readonly options: SubscriberPoolOptions) {
    this.answerTimeoutMs = options.answerTimeoutMs ?? 120_000;
    this.heartbeatMs = options.heartbeatMs ?? 2_000;
    this.subscriber = options.redis.duplicate();
    this.subscriber.on("error", () => undefined); // the command connection reports Redis' state
    this.subscriber.on("message", (_channel: string, text: string) => this.receive(JSON.parse(text) as Message));
    this.ready = Promise.all([this.subscriber.subscribe(this.channel(this.process)), this.beat()]);
    this.ready.catch(() => undefined); // `add` awaits it and fails its caller
    this.heartbeat = setInterval(() => void this.beat().catch(() => undefined), this.heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * Says this process is alive (for three heartbeats), and fails at once the callers whose entries a
   * process took that is no longer: killed mid-call, it will never answer them, and their jobs retry.
   */
  private async beat(): Promise<void> {
    await this.options.redis.set(this.aliveKey(this.process), "1", "PX", 3 * this.heartbeatMs);
    for (const [process, tokens] of this.sentBy) {
      if (tokens.size === 0) {
        this.sentBy.delete(process);
        continue;
      }
      if (await this.options.redis.exists(this.aliveKey(process))) continue;
      const lost = new VendorError("moosend: the worker process sending this subscribe stopped before it answered", "moosend", undefined, true);
      for (const token of [...tokens]) this.settle(token, { token, error: toWire(lost) });
      this.sentBy.delete(process);
    }
  }

  /** Callers of this process still waiting for an answer. */
  get waiting(): number {
    return this.waiters.size;
  }

  /** Adds the caller's address to the list's pool; resolves to the pool's size once it is there. */
  async add(listId: string, input: MoosendSubscriberInput, waiter: Waiter): Promise<number> {
    await this.ready;
    const token = randomUUID();
    this.waiters.set(token, waiter);
    try {
      const owner: Owner = { process: this.process, token };
      return Number(await this.options.redis.eval(ADD, 2, ...this.keys(listId), input.email, JSON.stringify(input), JSON.stringify(owner)));
    } catch (error) {
      this.waiters.delete(token);
      throw error;
    }
  }

  async size(listId: string): Promise<number> {
    return this.options.redis.llen(this.keys(listId)[1]);
  }

  /** Up to `count` entries, oldest first; they are this process's to answer now. */
  async take(listId: string, count: number): Promise<PooledEntry[]> {
    const raw = (await this.options.redis.eval(TAKE, 2, ...this.keys(listId), count, this.channel(""), this.process)) as string[];
    return raw.map((text) => JSON.parse(text) as PooledEntry);
  }

  /** Whether this process drains the list now (held for `ttlMs`, renewed by calling again). */
  async lead(listId: string, ttlMs: number): Promise<boolean> {
    return Number(await this.options.redis.eval(LEAD, 1, this.leadKey(listId), this.process, ttlMs)) === 1;
  }

  async resign(listId: string): Promise<void> {
    await this.options.redis.eval(RESIGN, 1, this.leadKey(listId), this.process);
  }

  /** Gives each owner of the entry its answer (a subscriber's with the call's status), in whichever process it waits. */
  async answer(entry: PooledEntry, outcome: { subscriber: MoosendSubscriber; status?: number } | { skipped: string } | { error: unknown }): Promise<void> {
    const byProcess = new Map<string, Answer[]>();
    for (const owner of entry.owners) {
      const answer = { token: owner.token, ...("error" in outcome ? { error: toWire(outcome.error) } : outcome) } as Answer;
      const answers = byProcess.get(owner.process) ?? [];
      answers.push(answer);
      byProcess.set(owner.process, answers);
    }
    await Promise.all(
      [...byProcess].map(([process, answers]) =>
        process === this.process ? this.receive({ answers }) : this.options.redis.publish(this.channel(process), JSON.stringify({ answers })),
      ),
    );
  }

  close(): Promise<unknown> {
    clearInterval(this.heartbeat);
    for (const timer of this.timers.values()) clearTimeout(timer);
    return this.subscriber.quit().catch(() => undefined);
  }

  private receive(message: Message): void {
    if ("sending" in message) {
      for (const token of message.sending) {
        if (!this.waiters.has(token) || this.timers.has(token)) continue;
        const timer = setTimeout(() => {
          const lost = new VendorError(`moosend: no answer for a subscribe the worker sending it took ${this.answerTimeoutMs} ms ago (it stopped?)`, "moosend", undefined, true);
          this.settle(token, { token, error: toWire(lost) });
        }, this.answerTimeoutMs);
        timer.unref();
        this.timers.set(token, timer);
        if (message.by !== this.process) this.sentBy.set(message.by, (this.sentBy.get(message.by) ?? new Set()).add(token));
      }
      return;
    }
    for (const answer of message.answers) this.settle(answer.token, answer);
  }

  private settle(token: string, answer: Answer): void {
    const waiter = this.waiters.get(token);
    clearTimeout(this.timers.get(token));
    this.timers.delete(token);
    for (const tokens of this.sentBy.values()) tokens.delete(token);
    this.waiters.delete(token);
    if (!waiter) return;
    if ("subscriber" in answer) waiter.resolve(answer.subscriber, answer.status);
    else if ("skipped" in answer) waiter.resolve(new StepSkipped(answer.skipped));
    else waiter.reject(fromWire(answer.error));
  }

  private keys(listId: string): [string, string] {
    const base = `${this.options.prefix}:moosend:pool:${listId}`;
    return [`${base}:entries`, `${base}:order`];
  }

  private leadKey(listId: string): string {
    return `${this.options.prefix}:moosend:pool:${listId}:lead`;
  }

  private aliveKey(process: string): string {
    return `${this.options.prefix}:moosend:alive:${process}`;
  }

  private channel(process: string): string {
    return `${this.options.prefix}:moosend:answers:${process}`;
  }
}

function toWire(error: unknown): WireError {
  if (isVendorError(error)) {
    return {
      name: error.name,
      message: error.message,
      vendor: error.vendor,
      status: error.status,
      retryable: error.retryable,
      ...(isVendorRateLimitError(error) && { retryAfterMs: error.retryAfterMs }),
    };
  }
  return { name: "Error", message: error instanceof Error ? error.message : String(error) };
}

/** The error as its class, so the worker's failure rules (by class) treat it as in the process that raised it. */
function fromWire(wire: WireError): Error {
  if (wire.vendor === undefined) return new Error(wire.message);
  const vendor = wire.vendor as VendorError["vendor"];
  if (wire.name === "VendorBlockedError") return new VendorBlockedError(vendor, wire.retryAfterMs ?? 0, wire.status);
  if (wire.name === "VendorRateLimitError") return new VendorRateLimitError(vendor, wire.retryAfterMs ?? 0, wire.status);
  const error = new VendorError(wire.message, vendor, wire.status, wire.retryable ?? true);
  error.name = wire.name;
  return error;
}
