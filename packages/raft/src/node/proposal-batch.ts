/**
 * Proposals waiting to be stepped into raft together. Stepping each one alone costs an append and one MsgApp per
 * follower per proposal (with optimistic pipelining, hundreds of one-entry messages per turn under load); stepped as
 * one MsgProp they are one append and one MsgApp per follower. Invariant: `data[i]` is the framed payload of the
 * proposal whose waiter key is `seqs[i]`, in call order.
 */
export class ProposalBatch {
  private data: Uint8Array[] = [];
  private seqs: number[] = [];

  /** Proposals waiting. */
  get size(): number {
    return this.seqs.length;
  }

  add(seq: number, framed: Uint8Array): void {
    this.seqs.push(seq);
    this.data.push(framed);
  }

  /** Takes every pending proposal (empty arrays when there are none). */
  take(): { data: Uint8Array[]; seqs: number[] } {
    const out = { data: this.data, seqs: this.seqs };
    if (out.data.length > 0) {
      this.data = [];
      this.seqs = [];
    }
    return out;
  }
}
