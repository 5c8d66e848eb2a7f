import { RaftError, isRaftError } from '../errors.js';
import type { RawNode } from '../raw-node.js';
import type { ConfChange, ConfChangeV2, ConfState } from '../raftpb/types.js';
import { ProposalBatch } from './proposal-batch.js';
import type { ProposalIds } from './proposal-id.js';
import { ReadBarriers, type ReadBarrier } from './read-barriers.js';
import { SequenceMap, Waiters } from './waiters.js';
import type { Clock } from './clock.js';

const EMPTY = new Uint8Array(0);

/** What requests need from their node. */
export interface RequestHost {
  readonly id: number;
  readonly rawNode: RawNode;
  readonly clock: Clock;
  /**
   * How long a read round waits for raft's answer before its ReadIndex request is stepped again (etcd's server:
   * readIndexRetryTime). Raft drops a request, or its answer, in states it cannot serve it in (no leader; a node
   * that joined and has not yet applied the configuration holding its leader), and never says so.
   */
  readonly readRetryMs: number;
  /** Runs the Ready loop soon. */
  kick(): void;
  stopped(): boolean;
}

/**
 * A RaftNode's requests in flight: proposals, conf changes and linearizable reads, each a promise keyed by an id
 * framed into what raft carries, settled when the entry is applied (or the read confirmed and applied), rejected
 * when raft refuses, the leader changes, the node stops, or the timeout passes.
 */
export class Requests<R> {
  /** Proposals whose promise resolves with the index alone (`propose`), and with the result too (`proposeForResult`). */
  private readonly proposals: Waiters<number, number>;
  private readonly proposalsForResult: Waiters<number, { index: number; result: R }>;
  private readonly confChanges: Waiters<number, ConfState>;
  private readonly reads: ReadBarriers;
  /** Proposals made in this turn of the event loop, stepped together by {@link flush}. */
  private readonly pending = new ProposalBatch();
  /** The read round that reads invoked in this turn of the event loop join; submitted in the next turn (Clock.defer). */
  private pendingRead: Promise<ReadBarrier> | undefined;
  private readSeq = 0;

  constructor(
    private readonly host: RequestHost,
    readonly ids: ProposalIds,
  ) {
    this.proposals = new Waiters(host.clock, 'proposal', new SequenceMap());
    this.proposalsForResult = new Waiters(host.clock, 'proposal', new SequenceMap());
    this.confChanges = new Waiters(host.clock, 'conf change', new SequenceMap());
    this.reads = new ReadBarriers(host.clock);
  }

  /** Proposals not yet stepped into raft. */
  get unstepped(): number {
    return this.pending.size;
  }

  /** Queues a proposal; it is stepped with the others of this turn by {@link flush}, before the next Ready. */
  propose(data: Uint8Array, timeoutMs: number): Promise<number> {
    return this.queueProposal(this.proposals, data, timeoutMs);
  }

  /** As {@link propose}, resolving with what `apply` returned too. */
  proposeForResult(data: Uint8Array, timeoutMs: number): Promise<{ index: number; result: R }> {
    return this.queueProposal(this.proposalsForResult, data, timeoutMs);
  }

  private queueProposal<T>(waiters: Waiters<number, T>, data: Uint8Array, timeoutMs: number): Promise<T> {
    const seq = this.ids.next();
    const done = waiters.wait(seq, timeoutMs);
    this.pending.add(seq, this.ids.frame(seq, data));
    this.host.kick();
    return done;
  }

  /** Steps the proposals gathered since the last flush as one MsgProp; a refusal rejects each of them. */
  flush(): void {
    const { data, seqs } = this.pending.take();
    if (data.length === 0) return;
    try {
      this.host.rawNode.proposeBatch(data);
    } catch (err) {
      const e = this.refusal(err);
      for (const seq of seqs) {
        this.proposals.reject(seq, e);
        this.proposalsForResult.reject(seq, e);
      }
    }
  }

  proposeConfChange(cc: ConfChange | ConfChangeV2, timeoutMs: number): Promise<ConfState> {
    const seq = this.ids.next();
    const done = this.confChanges.wait(seq, timeoutMs);
    const framed = { ...cc, context: this.ids.frame(seq, cc.context ?? EMPTY) };
    this.flush(); // entries keep call order
    try {
      this.host.rawNode.proposeConfChange(framed);
    } catch (err) {
      this.confChanges.reject(seq, this.refusal(err));
    }
    this.host.kick();
    return done;
  }

  read(timeoutMs: number): Promise<ReadBarrier> {
    // Reads invoked before the round below is submitted share it (one ReadIndex, one heartbeat round for all of
    // them). That stays linearizable: the round's read index is taken after every one of them was invoked, so each
    // sees every write acknowledged before it began. The round's timeout is its first read's.
    if (this.pendingRead !== undefined) return this.pendingRead;
    this.readSeq = (this.readSeq + 1) >>> 0;
    const ctx = this.ids.frame(this.readSeq, EMPTY);
    const done = this.reads.wait(ctx, timeoutMs);
    this.pendingRead = done;
    this.host.clock.defer(() => {
      this.pendingRead = undefined;
      if (this.host.stopped()) return; // stop() rejected the round already
      if (this.host.rawNode.leader === 0) {
        // A follower or candidate without a leader drops a ReadIndex request silently (etcd-raft does too).
        const err = new RaftError('ERR_NO_LEADER', `node ${this.host.id} lost its leader; retry later`);
        this.reads.reject(ctx, err);
        return;
      }
      try {
        this.host.rawNode.readIndex(ctx);
      } catch (err) {
        this.reads.reject(ctx, this.refusal(err));
      }
      this.host.kick();
      this.retryRead(ctx);
    });
    return done;
  }

  /**
   * Steps the read round `ctx` again every `readRetryMs` while raft has not confirmed it (and it has not timed out):
   * the same context, so whichever answer comes first confirms it. Safe: each attempt takes its read index after
   * every read of the round was invoked.
   */
  private retryRead(ctx: Uint8Array): void {
    this.host.clock.setTimeout(() => {
      if (this.host.stopped() || !this.reads.unconfirmed(ctx)) return;
      if (this.host.rawNode.leader !== 0) {
        try {
          this.host.rawNode.readIndex(ctx);
          this.host.kick();
        } catch {
          // Refused now (e.g. the leader is transferring): the next attempt, or the timeout, settles it.
        }
      }
      this.retryRead(ctx);
    }, this.host.readRetryMs);
  }

  /** The entry proposed as `seq` was applied at `index`; `apply` returned `result`. */
  applied(seq: number, index: number, result: R): void {
    if (!this.proposals.resolve(seq, index)) this.proposalsForResult.resolve(seq, { index, result });
  }

  /** The conf change proposed as `seq` was applied; the configuration is now `cs`. */
  confApplied(seq: number, cs: ConfState): void {
    this.confChanges.resolve(seq, cs);
  }

  /** Raft confirmed the read round `ctx` at `index` (a ReadState). */
  confirmRead(ctx: Uint8Array, index: number): void {
    this.reads.confirm(ctx, index);
  }

  /** Resolves every confirmed read whose index is applied. */
  serveReads(applied: number): void {
    this.reads.serve(applied);
  }

  /** Rejects every request in flight with `err`. */
  rejectAll(err: Error): void {
    this.proposals.rejectAll(err);
    this.proposalsForResult.rejectAll(err);
    this.confChanges.rejectAll(err);
    this.reads.rejectAll(err);
  }

  /** Raft's refusal of a request, as ERR_NO_LEADER when the reason is that no leader is known. */
  private refusal(err: unknown): Error {
    if (isRaftError(err, 'ERR_PROPOSAL_DROPPED') && this.host.rawNode.leader === 0)
      return new RaftError('ERR_NO_LEADER', err.message);
    return err instanceof Error ? err : new Error(String(err));
  }
}
