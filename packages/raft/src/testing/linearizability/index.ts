export { UNKNOWN, type Model, type Operation } from './model.js';
export { checkLinearizable, type Explanation, type LinearizabilityResult } from './check.js';
export { historyFromEvents, type HistoryEvent } from './history.js';
export {
  casRegisterModel,
  kvModel,
  multiRegisterModel,
  mutexModel,
  partitionBy,
  registerModel,
  type CasInput,
  type KvInput,
  type MicroOp,
  type MutexInput,
  type RegisterInput,
} from './models.js';
export { parseEdn, kw, type Edn } from './edn.js';
