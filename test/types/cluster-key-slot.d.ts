// The package (ioredis' own slot calculator) ships no types.
declare module "cluster-key-slot" {
  /** Redis Cluster's hash slot (0–16383) of a key: CRC16 of its hash tag if it has one, else of the whole key. */
  function calculateSlot(key: string | Buffer): number;
  export = calculateSlot;
}
