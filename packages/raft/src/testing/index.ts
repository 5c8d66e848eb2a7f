// @x/raft/testing: a deterministic cluster simulator and a linearizability checker, for testing Raft and the
// services built on it.
export {
  simulate,
  defaultSimFaults,
  type SimFaults,
  type SimOperation,
  type SimulateOptions,
  type SimulationReport,
} from './sim/simulate.js';
export {
  SimCluster,
  InjectedFault,
  type SimClusterOptions,
  type SimProcess,
  type SimServer,
} from './sim/sim-cluster.js';
export { SimNetwork, SimTransport, simAddress, calmNetwork, type NetworkFaults } from './sim/sim-network.js';
export { VirtualClock, type ClockScope } from './sim/virtual-clock.js';
export { InvariantViolation, SafetyLedger } from './invariants.js';
export {
  UNKNOWN,
  checkLinearizable,
  historyFromEvents,
  casRegisterModel,
  kvModel,
  multiRegisterModel,
  mutexModel,
  partitionBy,
  registerModel,
  parseEdn,
  kw,
  type Model,
  type Operation,
  type Explanation,
  type LinearizabilityResult,
  type HistoryEvent,
  type CasInput,
  type KvInput,
  type MicroOp,
  type MutexInput,
  type RegisterInput,
  type Edn,
} from './linearizability/index.js';
export {
  parsePrometheusText,
  PrometheusTextError,
  type PrometheusFamily,
  type PrometheusSample,
} from './prometheus-text.js';
export { BlobMachine, blobBytes } from './blob-machine.js';
