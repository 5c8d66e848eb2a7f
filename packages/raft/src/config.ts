import { RaftError } from './errors.js';
import type { Logger } from './logger.js';
import type { RandomSource } from './random.js';
import type { Storage } from './storage/storage.js';

/** How read-only queries are confirmed (etcd's ReadOnlyOption). */
export const ReadOnlyOption = {
  /** Confirm leadership with a heartbeat round to a quorum for each ReadIndex batch (always safe). */
  Safe: 'safe',
  /** Trust the leader lease (needs checkQuorum; unsafe under unbounded clock drift). */
  LeaseBased: 'lease-based',
} as const;
export type ReadOnlyOption = (typeof ReadOnlyOption)[keyof typeof ReadOnlyOption];

/**
 * Configuration of a {@link RawNode}; etcd's raft.Config in camelCase.
 *
 * @example
 * ```ts
 * const config: Config = { id: 1, electionTick: 10, heartbeatTick: 1, storage: new MemoryStorage(),
 *   maxSizePerMsg: 1 << 20, maxInflightMsgs: 256, checkQuorum: true, preVote: true };
 * ```
 */
export interface Config {
  /** This node's id: non-zero and never reused. */
  id: number;
  /** Ticks without hearing from a leader before a follower campaigns (randomized in [et, 2et)). Must exceed heartbeatTick. */
  electionTick: number;
  /** Ticks between leader heartbeats. */
  heartbeatTick: number;
  /** Where raft reads the stable log from. */
  storage: Storage;
  /** The last index the application applied (on restart), so nothing is applied twice. */
  applied?: number;
  /** Byte budget of one MsgApp's entries (etcd default here: 1 MiB). 0 means one entry per message. */
  maxSizePerMsg?: number;
  /** Byte budget of committed entries in one Ready. Default: maxSizePerMsg. */
  maxCommittedSizePerReady?: number;
  /** Byte budget of proposed-but-uncommitted entry payloads on the leader; proposals beyond it are dropped. */
  maxUncommittedEntriesSize?: number;
  /** MsgApps in flight per follower in the Replicate state. Default 256. */
  maxInflightMsgs?: number;
  /** Payload bytes in flight per follower. Default: unlimited. Must be >= maxSizePerMsg when set. */
  maxInflightBytes?: number;
  /** The leader steps down when it has not heard from a quorum for an election timeout. Default false. */
  checkQuorum?: boolean;
  /** Pre-vote before a real election (dissertation §9.6): a partitioned node does not bump terms. Default false. */
  preVote?: boolean;
  readOnlyOption?: ReadOnlyOption;
  /** Followers drop proposals instead of forwarding them to the leader. */
  disableProposalForwarding?: boolean;
  /** Skip the proposal-time validation of conf changes (the application checks them itself). */
  disableConfChangeValidation?: boolean;
  /** A leader removed from the configuration steps down once the removal is applied. */
  stepDownOnRemoval?: boolean;
  logger?: Logger;
  /** Election jitter source. Default: `seededRandom(id)`, deterministic per node id. */
  random?: RandomSource;
}

/** A Config with every default filled in. */
export type ResolvedConfig = Required<Omit<Config, 'logger' | 'random'>> & {
  logger: Logger;
  random: RandomSource;
};

function positiveInt(v: unknown, field: string, allowZero = false): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (allowZero ? 0 : 1)) {
    throw new RaftError(
      'ERR_CONFIG_INVALID',
      `${field} must be ${allowZero ? 'a non-negative' : 'a positive'} integer, got ${String(v)}`,
      field,
    );
  }
}

/** Checks a config, throwing RaftError ERR_CONFIG_INVALID naming the field. */
export function validateConfig(c: Config): void {
  if (c === null || typeof c !== 'object')
    throw new RaftError('ERR_CONFIG_INVALID', 'config must be an object', 'config');
  positiveInt(c.id, 'id');
  positiveInt(c.heartbeatTick, 'heartbeatTick');
  positiveInt(c.electionTick, 'electionTick');
  if (c.electionTick <= c.heartbeatTick) {
    throw new RaftError(
      'ERR_CONFIG_INVALID',
      `electionTick (${c.electionTick}) must be greater than heartbeatTick (${c.heartbeatTick})`,
      'electionTick',
    );
  }
  const s = c.storage as Partial<Storage> | undefined;
  if (
    s === undefined ||
    typeof s.entries !== 'function' ||
    typeof s.term !== 'function' ||
    typeof s.initialState !== 'function'
  ) {
    throw new RaftError('ERR_CONFIG_INVALID', 'storage must implement Storage', 'storage');
  }
  if (c.applied !== undefined) positiveInt(c.applied, 'applied', true);
  if (c.maxSizePerMsg !== undefined) positiveInt(c.maxSizePerMsg, 'maxSizePerMsg', true);
  if (c.maxCommittedSizePerReady !== undefined)
    positiveInt(c.maxCommittedSizePerReady, 'maxCommittedSizePerReady', true);
  if (c.maxUncommittedEntriesSize !== undefined)
    positiveInt(c.maxUncommittedEntriesSize, 'maxUncommittedEntriesSize', true);
  if (c.maxInflightMsgs !== undefined) positiveInt(c.maxInflightMsgs, 'maxInflightMsgs');
  if (c.maxInflightBytes !== undefined) {
    positiveInt(c.maxInflightBytes, 'maxInflightBytes', true);
    if (c.maxInflightBytes !== 0 && c.maxInflightBytes < (c.maxSizePerMsg ?? 1 << 20)) {
      throw new RaftError(
        'ERR_CONFIG_INVALID',
        'maxInflightBytes must be >= maxSizePerMsg',
        'maxInflightBytes',
      );
    }
  }
  if (
    c.readOnlyOption !== undefined &&
    c.readOnlyOption !== ReadOnlyOption.Safe &&
    c.readOnlyOption !== ReadOnlyOption.LeaseBased
  ) {
    throw new RaftError(
      'ERR_CONFIG_INVALID',
      `readOnlyOption must be 'safe' or 'lease-based'`,
      'readOnlyOption',
    );
  }
  if (c.readOnlyOption === ReadOnlyOption.LeaseBased && c.checkQuorum !== true) {
    throw new RaftError(
      'ERR_CONFIG_INVALID',
      'checkQuorum must be enabled when readOnlyOption is lease-based',
      'checkQuorum',
    );
  }
}
