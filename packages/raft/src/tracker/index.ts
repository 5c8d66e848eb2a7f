// tracker/: the leader's per-peer replication state and the active membership configuration.
export { Inflights } from './inflights.js';
export { ProgressState } from './progress-state.js';
export { Progress, formatProgressMap } from './progress.js';
export type { ProgressInit, ProgressMap } from './progress.js';
export { cloneTrackerConfig, emptyTrackerConfig, formatTrackerConfig } from './config.js';
export type { TrackerConfig } from './config.js';
export { ProgressTracker } from './tracker.js';
export type { VoteTally } from './tracker.js';
