// The README's Ready-loop example, run as a test so the documentation cannot rot.
import { expect, it } from 'vitest';
import { EntryType, MemoryStorage, RawNode, decodeConfChange, type Message } from '../src/index.js';

it('the README example: three nodes elect a leader and replicate a proposal', () => {
  // --- README example start ---
  const ids = [1, 2, 3];
  const nodes = new Map<number, { node: RawNode; storage: MemoryStorage; applied: string[] }>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    const node = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      preVote: true,
      checkQuorum: true,
    });
    node.bootstrap(ids.map((peer) => ({ id: peer }))); // a brand-new cluster; on restart, skip this
    nodes.set(id, { node, storage, applied: [] });
  }
  const network: Message[] = [];

  /** One pass of the Ready loop on every node. */
  function handleReadies(): void {
    for (const { node, storage, applied } of nodes.values()) {
      while (node.hasReady()) {
        const rd = node.ready();
        // 1. Persist entries, then hard state and snapshot (a real node writes its WAL here, fsync if rd.mustSync).
        if (rd.snapshot) storage.applySnapshot(rd.snapshot);
        storage.append(rd.entries);
        if (rd.hardState) storage.setHardState(rd.hardState);
        // 2. Send messages, only now that the state they depend on is durable.
        network.push(...rd.messages);
        // 3. Apply committed entries; conf changes go back to raft.
        for (const entry of rd.committedEntries) {
          if (entry.type === EntryType.ConfChange) node.applyConfChange(decodeConfChange(entry.data));
          else if (entry.data.byteLength > 0) applied.push(new TextDecoder().decode(entry.data));
        }
        // 4. Tell raft this Ready is done.
        node.advance(rd);
      }
    }
    for (const m of network.splice(0)) nodes.get(m.to)?.node.step(m);
  }

  for (let tick = 0; tick < 50; tick++) {
    for (const { node } of nodes.values()) node.tick(); // a timer calls tick() every ~100 ms in real life
    handleReadies();
  }
  const leader = [...nodes.values()].find(({ node }) => node.status().softState.raftState === 'StateLeader')!;
  leader.node.propose(new TextEncoder().encode('hello'));
  for (let i = 0; i < 5; i++) handleReadies();
  // --- README example end ---

  for (const { applied } of nodes.values()) expect(applied).toEqual(['hello']);
});
