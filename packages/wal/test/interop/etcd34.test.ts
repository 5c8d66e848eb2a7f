// Interop with a WAL directory written by etcd 3.4.23 (Debian's etcd-server): see test/fixtures/README.md.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdCodecs, type EtcdEntry, type EtcdHardState, type EtcdSnapshot } from '../../src/codec/etcd.js';
import { RecordType } from '../../src/record/record-type.js';
import { listSegments } from '../../src/segment/names.js';
import { SegmentScanner, type ScannedRecord } from '../../src/segment/scan.js';
import { Wal } from '../../src/wal.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/etcd34-wal.tar.gz');
let root: string;
let dir: string;
let records: (ScannedRecord & { bytes: Uint8Array | undefined })[];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'x-etcd34-'));
  execFileSync('tar', ['-xzf', FIXTURE, '-C', root]);
  dir = join(root, 'wal');
  const scanner = new SegmentScanner(await listSegments(dir));
  records = [];
  for await (const r of scanner.records()) records.push({ ...r, bytes: r.data?.slice() });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('an etcd 3.4 WAL directory', () => {
  it("has two segments and etcd's leftover .tmp file, which readers ignore", async () => {
    const names = await readdir(dir);
    expect(names.filter((n) => n.endsWith('.wal'))).toEqual([
      '0000000000000000-0000000000000000.wal',
      '0000000000000001-0000000000000045.wal',
    ]);
    expect(names).toContain('1.tmp');
    expect(new Set(records.map((r) => r.seq))).toEqual(new Set([0, 1]));
  });

  it('reads with etcdCodecs: metadata, the hard state with its 64-bit vote exact, consecutive entries', async () => {
    const wal = await Wal.openForRead<EtcdEntry, EtcdHardState, EtcdSnapshot>(dir, undefined, {
      codecs: etcdCodecs,
    });
    const { metadata, state, entries } = await wal.readAll();
    await wal.close();
    expect(metadata.byteLength).toBeGreaterThan(0);
    expect(state).toBeDefined();
    // A single-member etcd votes for itself: its member id, a random 64-bit value.
    expect(BigInt(state!.vote)).toBeGreaterThan(0n);
    expect(BigInt(state!.term)).toBeGreaterThanOrEqual(2n);
    const first = entries[0]!.index;
    entries.forEach((e, i) => expect(e.index).toBe(first + i));
    expect(entries.at(-1)!.index).toBe(state!.commit);
    // 70 puts of 1 MB and 40 small ones, plus etcd's own entries (conf change, leader's empty entries, member attrs).
    expect(entries.filter((e) => (e.data?.byteLength ?? 0) > 1_000_000)).toHaveLength(70);
    expect(entries.length).toBeGreaterThan(110);
    // The metadata record is raftpb-like protobuf: fields 1 (NodeID) and 2 (ClusterID), both 64-bit ids.
    expect(metadata[0]).toBe(0x08);
  });

  it('holds snapshot records (etcd ran with --snapshot-count 25), and validSnapshots lists them', async () => {
    const snaps = records
      .filter((r) => r.type === RecordType.Snapshot)
      .map((r) => etcdCodecs.snapshot.decode(r.bytes!));
    expect(snaps.length).toBeGreaterThan(2);
    const valid = await Wal.validSnapshots<EtcdEntry, EtcdHardState, EtcdSnapshot>(dir, {
      codecs: etcdCodecs,
    });
    expect(valid.map((s) => s.index)).toEqual(snaps.map((s) => s.index));
  });

  it('re-encodes every decoded payload to exactly the bytes etcd wrote', () => {
    let checked = 0;
    for (const r of records) {
      if (r.bytes === undefined) continue;
      const codec =
        r.type === RecordType.Entry
          ? etcdCodecs.entry
          : r.type === RecordType.State
            ? etcdCodecs.state
            : r.type === RecordType.Snapshot
              ? etcdCodecs.snapshot
              : undefined;
      if (codec === undefined) continue;
      const again = (codec as { encode(v: unknown): Uint8Array }).encode(
        (codec as { decode(b: Uint8Array): unknown }).decode(r.bytes),
      );
      expect(Buffer.from(again).equals(Buffer.from(r.bytes))).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('written again through Wal with etcdCodecs, the first segment is byte for byte what etcd wrote', async () => {
    const out = join(root, 'rewritten');
    const meta = records.find((r) => r.type === RecordType.Metadata)!.bytes!;
    const wal = await Wal.create<EtcdEntry, EtcdHardState, EtcdSnapshot>(out, meta, {
      codecs: etcdCodecs,
      segmentSizeBytes: 1 << 30,
    });
    // Replay segment 0 after create's own three records: runs of entries followed by a state are one save().
    const seg0 = records.filter((r) => r.seq === 0).slice(3);
    let pending: EtcdEntry[] = [];
    for (const r of seg0) {
      if (r.type === RecordType.Entry) pending.push(etcdCodecs.entry.decode(r.bytes!));
      else if (r.type === RecordType.State) {
        await wal.save(etcdCodecs.state.decode(r.bytes!), pending);
        pending = [];
      } else if (r.type === RecordType.Snapshot) {
        if (pending.length > 0) await wal.saveEntry(pending);
        pending = [];
        await wal.saveSnap(etcdCodecs.snapshot.decode(r.bytes!));
      }
    }
    if (pending.length > 0) await wal.saveEntry(pending);
    await wal.close();
    const last = seg0.at(-1)!;
    const end = last.offset + last.frameBytes;
    const ours = (await readFile(join(out, '0000000000000000-0000000000000000.wal'))).subarray(0, end);
    const theirs = (await readFile(join(dir, '0000000000000000-0000000000000000.wal'))).subarray(0, end);
    expect(ours.byteLength).toBe(end);
    expect(Buffer.compare(ours, theirs)).toBe(0);
  });
});
