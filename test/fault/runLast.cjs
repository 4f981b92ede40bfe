// The fault tests start real processes (ingest, workers, Redis, Postgres) and keep two cores busy;
// run them after every other test file, so that timing-sensitive tests never share the machine with them.
const path = require("node:path");
const Sequencer = require("@jest/test-sequencer").default;

const FAULT_DIR = `${path.sep}test${path.sep}fault${path.sep}`;

class FaultTestsLast extends Sequencer {
  async sort(tests) {
    const sorted = await super.sort(tests);
    return [...sorted.filter((t) => !t.path.includes(FAULT_DIR)), ...sorted.filter((t) => t.path.includes(FAULT_DIR))];
  }
}

module.exports = FaultTestsLast;
