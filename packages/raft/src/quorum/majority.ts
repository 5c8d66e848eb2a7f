// Majority quorums: one set of voters, decisions need more than half of them (Raft paper section 5.2/5.3).
// Any two majorities of one set share a voter: hence at most one leader per term (each voter votes once), and a
// committed entry is on some voter of every later election's majority, which only elects a log holding it (§5.4).
import { INFINITE_INDEX, VoteResult } from './vote-result.js';
import type { AckedIndexer } from './vote-result.js';

/** A set of voter ids that decides by simple majority (etcd's quorum.MajorityConfig). */
export type MajorityConfig = ReadonlySet<number>;

/**
 * Scratch buffer for configs of up to seven voters, reused across calls so that the leader's hot path (one call
 * per MsgAppResp) allocates nothing; etcd uses an on-stack `[7]uint64` for the same reason. Invariant: only
 * touched by {@link majorityCommittedIndex} while `scratchBusy` is true.
 */
const SCRATCH_SIZE = 7;
const scratch = new Float64Array(SCRATCH_SIZE);
/** True while a call owns `scratch`; a re-entrant call (from an AckedIndexer) allocates its own buffer. */
let scratchBusy = false;

/**
 * The largest log index acknowledged by a majority of `c` (etcd's MajorityConfig.CommittedIndex): sorting the
 * acked indexes ascending, the value at position `n - (n/2 + 1)`. Voters the indexer does not know count as 0.
 * An empty config returns {@link INFINITE_INDEX} so that it is neutral inside a joint config.
 *
 * @example
 * majorityCommittedIndex(new Set([1, 2, 3]), (id) => ({ 1: 5, 2: 7 })[id]); // 5: ids 1 and 2 have 5
 */
export function majorityCommittedIndex(c: MajorityConfig, l: AckedIndexer): number {
  const n = c.size;
  if (n === 0) return INFINITE_INDEX;
  const reuse = n <= SCRATCH_SIZE && !scratchBusy;
  const buf = reuse ? scratch : new Float64Array(n);
  if (reuse) scratchBusy = true;
  try {
    // Insertion sort while collecting: n is tiny (usually 3 or 5), so this beats a generic sort.
    let k = 0;
    for (const id of c) {
      const idx = l(id);
      if (idx === undefined) continue;
      let j = k++;
      while (j > 0 && (buf[j - 1] as number) > idx) {
        buf[j] = buf[j - 1] as number;
        j--;
      }
      buf[j] = idx;
    }
    // The full sorted list is (n - k) zeros for silent voters followed by buf[0..k).
    const pos = n - ((n >> 1) + 1) - (n - k);
    return pos < 0 ? 0 : (buf[pos] as number);
  } finally {
    if (reuse) scratchBusy = false;
  }
}

/**
 * Counts `votes` (voter id -> granted) over `c` (etcd's MajorityConfig.VoteResult): Won once a majority said
 * yes, Lost once a majority can no longer be reached, else Pending. Votes from ids outside `c` are ignored. An
 * empty config wins by convention, so a joint config with an empty half behaves like its other half.
 */
export function majorityVoteResult(c: MajorityConfig, votes: ReadonlyMap<number, boolean>): VoteResult {
  if (c.size === 0) return VoteResult.Won;
  let granted = 0;
  let missing = 0;
  for (const id of c) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = (c.size >> 1) + 1;
  if (granted >= q) return VoteResult.Won;
  if (granted + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}
