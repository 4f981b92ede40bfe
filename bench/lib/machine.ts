import { cpus, freemem, loadavg, release, totalmem } from "node:os";

/** What the numbers were measured on: they only compare within one run, but a reader needs the context. */
export function machineFacts() {
  const cores = cpus();
  return {
    cpuModel: cores[0]?.model.trim() ?? "unknown",
    cores: cores.length,
    memoryGb: Number((totalmem() / 2 ** 30).toFixed(1)),
    freeMemoryGbAtStart: Number((freemem() / 2 ** 30).toFixed(1)),
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
    node: process.version,
    platform: `${process.platform} ${release()}`,
  };
}
