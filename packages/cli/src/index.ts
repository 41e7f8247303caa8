// Public API of @cardwright/cli: the demo, for embedding apps and tests that want to run it.
export { type DemoOptions, type DemoReport, runDemo } from "./demo/run-demo.js";
export { DEMO_CA_ID, sampleUsers, staffPivPolicy } from "./demo/sample-policy.js";
export { runSimulate, type SimulateOptions, type SimulateReport } from "./simulate/run-simulate.js";
