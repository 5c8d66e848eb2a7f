import { describe, expect, it } from 'vitest';
import { crashStates, type ModelOptions } from './states.js';
import { ROOT, type Recording, type TraceEvent } from './trace.js';

// The persistence model on a hand-written trace: create f, write 1000 bytes, fdatasync f, rename f to g, fsync
// the directory. The states each crash point may leave are known exactly.

const bytes = new Uint8Array(1000).map((_, i) => (i % 251) + 1);
const trace: TraceEvent[] = [
  { op: 'create', parent: ROOT, name: 'f', ino: 1, dir: false, path: 'f' },
  { op: 'write', ino: 1, offset: 0, bytes, path: 'f' },
  { op: 'sync', ino: 1, from: 2, path: 'f' },
  { op: 'mark', value: 'synced' },
  { op: 'rename', fromParent: ROOT, fromName: 'f', toParent: ROOT, toName: 'g', ino: 1, path: 'f -> g' },
  { op: 'sync', ino: ROOT, from: 5, path: '.' },
];
const rec: Recording = {
  initial: { nodes: new Map([[ROOT, { dir: true, entries: new Map() }]]), next: 1 },
  trace,
};
const model: ModelOptions = { sector: 512, maxPerPoint: 64, reorder: false, seed: 1 };

/** Each crash point's distinct states, as "name:size" lists. */
function statesByPoint(): string[][] {
  const out: string[][] = trace.map(() => []);
  out.push([]);
  for (const s of crashStates(rec, model)) {
    const desc = [...s.files].map(([p, d]) => `${p}:${d?.byteLength ?? 'dir'}`).join(',') || '(empty)';
    const list = out[s.position] as string[];
    if (!list.includes(desc)) list.push(desc);
  }
  return out.map((l) => l.sort());
}

describe('crash states of a recorded trace', () => {
  it('a create not yet fsynced in its directory may be lost; unsynced data persists as a sector prefix', () => {
    const states = statesByPoint();
    expect(states[0]).toEqual(['(empty)']);
    // After the create: the entry may or may not have persisted.
    expect(states[1]).toEqual(['(empty)', 'f:0']);
    // After the write, before the fdatasync: 0, 1 or 2 of its 512-byte pieces.
    expect(states[2]).toEqual(['(empty)', 'f:0', 'f:1000', 'f:512']);
    // After the fdatasync: the data is durable, the name still is not.
    expect(states[3]).toEqual(['(empty)', 'f:1000']);
    expect(states[4]).toEqual(['(empty)', 'f:1000']);
    // After the rename: any subset of the two unsynced directory operations; a rename is atomic.
    expect(states[5]).toEqual(['(empty)', 'f:1000', 'g:1000']);
    // After the directory fsync: only the final state.
    expect(states[6]).toEqual(['g:1000']);
  });

  it('a rename may persist without the create of its source: the file is there under the new name', () => {
    const renamedOnly = [...crashStates(rec, model)].filter(
      (s) =>
        s.position === 5 &&
        /create f: DROPPED/.test(s.describe()) &&
        /rename f -> g: kept/.test(s.describe()),
    );
    expect(renamedOnly.length).toBeGreaterThan(0);
    for (const s of renamedOnly) expect([...s.files.keys()]).toEqual(['g']);
  });

  it('a file keeps its bytes through the pieces kept: the 512-byte prefix is the first 512 bytes written', () => {
    for (const s of crashStates(rec, model)) {
      const f = s.files.get('f') ?? s.files.get('g');
      if (f instanceof Uint8Array)
        expect(Buffer.from(f).equals(Buffer.from(bytes.subarray(0, f.byteLength)))).toBe(true);
    }
  });

  it('marks before the crash point are handed to the checker', () => {
    const marks = new Map<number, unknown[]>();
    for (const s of crashStates(rec, model)) marks.set(s.position, s.marks);
    expect(marks.get(3)).toEqual([]);
    expect(marks.get(4)).toEqual(['synced']);
  });

  it('reorder mode adds non-prefix subsets and zeroed pieces of unsynced writes, the same for the same seed', () => {
    const sizesAt2 = (seed: number): string[] => {
      const out = new Set<string>();
      for (const s of crashStates(rec, { ...model, reorder: true, seed })) {
        const f = s.files.get('f');
        if (s.position === 2 && f instanceof Uint8Array) {
          out.add(
            `${f.byteLength}:${f[0] === 0 ? 'z' : 'd'}${f[600] === 0 || f.byteLength < 600 ? 'z' : 'd'}`,
          );
        }
      }
      return [...out].sort();
    };
    const a = sizesAt2(7);
    // A hole: the first sector unwritten or zeroed while the second landed.
    expect(a).toContain('1000:zd');
    expect(sizesAt2(7)).toEqual(a);
  });
});
