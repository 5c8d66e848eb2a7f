// Validated membership changes: simple (one voter at a time) and joint consensus (Raft dissertation 4.1, 4.3).
import { RaftError } from '../errors.js';
import type { ConfChangeSingle } from '../raftpb/types.js';
import { ConfChangeType } from '../raftpb/types.js';
import { jointIds } from '../quorum/index.js';
import { Inflights, Progress, cloneTrackerConfig } from '../tracker/index.js';
import type { ProgressMap, TrackerConfig } from '../tracker/index.js';

/** What a {@link Changer} reads: the active configuration, its progress map and the inflight limits. */
export interface ChangerTracker {
  readonly config: TrackerConfig;
  readonly progress: ReadonlyMap<number, Progress>;
  readonly maxInflight: number;
  readonly maxInflightBytes: number;
}

/** A proposed configuration and the progress map that goes with it. */
export type ConfigAndProgress = [TrackerConfig, ProgressMap];

/**
 * Computes the configuration that results from applying membership changes to the tracker's, refusing changes
 * that would break the invariants of {@link TrackerConfig} or the safety of single-step changes (etcd's
 * confchange.Changer). It never mutates its input: each method returns a new config and progress map (new
 * Progress objects for every peer), which the caller installs when the change is applied.
 *
 * @example
 * const chg = new Changer(tracker, lastIndex);
 * const [cfg, prs] = chg.simple({ type: ConfChangeType.AddNode, nodeId: 4 });
 * tracker.config = cfg; tracker.progress = prs;
 */
export class Changer {
  /**
   * @param tracker the current configuration and progress (not modified).
   * @param lastIndex the leader's last log index: new peers start probing at `max(lastIndex, 1)`.
   */
  constructor(
    readonly tracker: ChangerTracker,
    readonly lastIndex: number,
  ) {}

  /**
   * Enters a joint configuration: copies the incoming voters to the outgoing half, then applies `ccs` to the
   * incoming half (`C_old` -> `C_old,new`, dissertation section 4.3).
   *
   * @param autoLeave whether raft leaves the joint config by itself once it is committed.
   * @throws RaftError ERR_CONF_CHANGE_INVALID if already joint, if there are no voters, or if `ccs` is invalid.
   */
  enterJoint(autoLeave: boolean, ...ccs: ConfChangeSingle[]): ConfigAndProgress {
    const [cfg, trk] = this.checkAndCopy();
    if (isJointConfig(cfg)) fail('config is already joint');
    if (cfg.voters[0].size === 0) {
      // Changes may start from an empty config (bootstrap, tests), but it cannot become joint.
      fail("can't make a zero-voter config joint");
    }
    cfg.voters[1] = new Set(cfg.voters[0]);
    this.apply(cfg, trk, ccs);
    cfg.autoLeave = autoLeave;
    return checkAndReturn(cfg, trk);
  }

  /**
   * Leaves a joint configuration (`C_old,new` -> `C_new`): drops the outgoing half, turns staged learners
   * (`learnersNext`) into learners, and forgets peers that are in neither the incoming voters nor learners.
   *
   * @throws RaftError ERR_CONF_CHANGE_INVALID if the config is not joint.
   */
  leaveJoint(): ConfigAndProgress {
    const [cfg, trk] = this.checkAndCopy();
    if (!isJointConfig(cfg)) fail("can't leave a non-joint config");
    for (const id of cfg.learnersNext) {
      cfg.learners.add(id);
      mustGet(trk, id).isLearner = true;
    }
    cfg.learnersNext = new Set();
    for (const id of cfg.voters[1]) {
      if (!cfg.voters[0].has(id) && !cfg.learners.has(id)) trk.delete(id);
    }
    cfg.voters[1] = new Set();
    cfg.autoLeave = false;
    return checkAndReturn(cfg, trk);
  }

  /**
   * Applies `ccs` without joint consensus. Safe only if, in aggregate, they change the voter set by at most
   * one node (dissertation section 4.1: any two majorities of configurations differing by one voter overlap).
   *
   * @throws RaftError ERR_CONF_CHANGE_INVALID if joint, if more than one voter changes, if no voter would be
   *   left, or if `ccs` is invalid.
   */
  simple(...ccs: ConfChangeSingle[]): ConfigAndProgress {
    const [cfg, trk] = this.checkAndCopy();
    if (isJointConfig(cfg)) fail("can't apply simple config change in joint config");
    this.apply(cfg, trk, ccs);
    if (symmetricDifference(this.tracker.config.voters[0], cfg.voters[0]) > 1) {
      fail('more than one voter changed without entering joint config');
    }
    return checkAndReturn(cfg, trk);
  }

  /**
   * Applies each change to the incoming half (`voters[0]`); the outgoing half only ever keeps the old config.
   * Node id 0 is skipped: etcd's applications zero the id to cancel a change after it was proposed.
   */
  private apply(cfg: TrackerConfig, trk: ProgressMap, ccs: readonly ConfChangeSingle[]): void {
    for (const cc of ccs) {
      if (cc.nodeId === 0) continue;
      switch (cc.type) {
        case ConfChangeType.AddNode:
          this.makeVoter(cfg, trk, cc.nodeId);
          break;
        case ConfChangeType.AddLearnerNode:
          this.makeLearner(cfg, trk, cc.nodeId);
          break;
        case ConfChangeType.RemoveNode:
          remove(cfg, trk, cc.nodeId);
          break;
        case ConfChangeType.UpdateNode:
          break;
        default:
          fail(`unexpected conf type ${String((cc as { type: unknown }).type)}`);
      }
    }
    if (cfg.voters[0].size === 0) fail('removed all voters');
  }

  /** Adds `id` as an incoming voter, or promotes it if it is tracked as a learner (or staged learner). */
  private makeVoter(cfg: TrackerConfig, trk: ProgressMap, id: number): void {
    const pr = trk.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, trk, id, false);
      return;
    }
    pr.isLearner = false;
    cfg.learners.delete(id);
    cfg.learnersNext.delete(id);
    cfg.voters[0].add(id);
  }

  /**
   * Makes `id` a learner. A voter of the outgoing half cannot be a learner at the same time (voters and
   * learners are disjoint), so it is staged in `learnersNext` and becomes a learner on leaveJoint.
   */
  private makeLearner(cfg: TrackerConfig, trk: ProgressMap, id: number): void {
    const pr = trk.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, trk, id, true);
      return;
    }
    if (pr.isLearner) return;
    // Remove it as an incoming voter, but keep its progress.
    remove(cfg, trk, id);
    trk.set(id, pr);
    if (cfg.voters[1].has(id)) {
      cfg.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      cfg.learners.add(id);
    }
  }

  /**
   * Tracks a new peer. It starts probing at the last index (an optimistic guess: an empty newcomer rejects the
   * probe and its hint leads the leader back to where the logs agree, or to a snapshot) and counts as recently
   * active (CheckQuorum).
   */
  private initProgress(cfg: TrackerConfig, trk: ProgressMap, id: number, isLearner: boolean): void {
    if (isLearner) cfg.learners.add(id);
    else cfg.voters[0].add(id);
    trk.set(
      id,
      new Progress({
        match: 0,
        next: Math.max(this.lastIndex, 1),
        inflights: new Inflights(this.tracker.maxInflight, this.tracker.maxInflightBytes),
        isLearner,
        // A new peer must not make CheckQuorum step the leader down before it had a chance to respond.
        recentActive: true,
      }),
    );
  }

  /** Copies the tracker's config and progress (deeply), checking the invariants of the input first. */
  private checkAndCopy(): ConfigAndProgress {
    const cfg = cloneTrackerConfig(this.tracker.config);
    const trk: ProgressMap = new Map();
    for (const [id, pr] of this.tracker.progress) trk.set(id, pr.clone());
    return checkAndReturn(cfg, trk);
  }
}

/**
 * Removes `id` as incoming voter and learner; keeps its progress while it is still an outgoing voter: until the
 * joint config is left, its acks and votes count in the outgoing half, so the leader must keep replicating to it.
 */
function remove(cfg: TrackerConfig, trk: ProgressMap, id: number): void {
  if (!trk.has(id)) return;
  cfg.voters[0].delete(id);
  cfg.learners.delete(id);
  cfg.learnersNext.delete(id);
  if (!cfg.voters[1].has(id)) trk.delete(id);
}

/**
 * Checks that `cfg` and `trk` agree and that the config invariants hold (see {@link TrackerConfig}). The empty
 * config is allowed: it is where bootstrap and restore start.
 *
 * @throws RaftError ERR_CONF_CHANGE_INVALID naming the offending id.
 */
export function checkInvariants(cfg: TrackerConfig, trk: ReadonlyMap<number, Progress>): void {
  for (const ids of [jointIds(cfg.voters), cfg.learners, cfg.learnersNext]) {
    for (const id of ids) {
      if (!trk.has(id)) fail(`no progress for ${id}`);
    }
  }
  for (const id of cfg.learnersNext) {
    if (!cfg.voters[1].has(id)) fail(`${id} is in LearnersNext, but not Voters[1]`);
    if (mustGet(trk, id).isLearner) fail(`${id} is in LearnersNext, but is already marked as learner`);
  }
  for (const id of cfg.learners) {
    if (cfg.voters[1].has(id)) fail(`${id} is in Learners and Voters[1]`);
    if (cfg.voters[0].has(id)) fail(`${id} is in Learners and Voters[0]`);
    if (!mustGet(trk, id).isLearner) fail(`${id} is in Learners, but is not marked as learner`);
  }
  if (!isJointConfig(cfg)) {
    if (cfg.learnersNext.size > 0) fail('cfg.LearnersNext must be empty when not joint');
    if (cfg.autoLeave) fail('AutoLeave must be false when not joint');
  }
}

function checkAndReturn(cfg: TrackerConfig, trk: ProgressMap): ConfigAndProgress {
  checkInvariants(cfg, trk);
  return [cfg, trk];
}

function isJointConfig(cfg: TrackerConfig): boolean {
  return cfg.voters[1].size > 0;
}

function mustGet(trk: ReadonlyMap<number, Progress>, id: number): Progress {
  const pr = trk.get(id);
  if (pr === undefined) fail(`no progress for ${id}`);
  return pr;
}

/** |(l - r) ∪ (r - l)| */
function symmetricDifference(l: ReadonlySet<number>, r: ReadonlySet<number>): number {
  let n = 0;
  for (const id of l) if (!r.has(id)) n++;
  for (const id of r) if (!l.has(id)) n++;
  return n;
}

function fail(message: string): never {
  throw new RaftError('ERR_CONF_CHANGE_INVALID', message);
}
