/**
 * The prefix of every Redis key one deployment writes: BullMQ's queues and the worker's rate-limit
 * windows. Redis Cluster hashes only the part in braces (a hash tag), so every key of the deployment
 * lands in one slot: BullMQ's scripts and the rate-limit scripts each touch several keys at once,
 * which a cluster allows only within a slot.
 */
export const KEY_PREFIX = "{funnelsync}";

/** `name` as a hash-tagged prefix, for deployments or tests that keep their keys apart. */
export function hashTaggedPrefix(name: string): string {
  if (/[{}]/.test(name)) throw new Error(`a hash tag cannot hold braces: ${JSON.stringify(name)}`);
  return `{${name}}`;
}
