// Optional interop with a live etcd 3.4 (Debian's etcd-server + etcd-client). Skipped, with a message, when the
// `etcd`/`etcdctl` binaries are absent (CI may not have them); the fixture test (etcd34.test.ts) never needs them.
// Oracle: etcd's own view of its state (`etcdctl endpoint status`), never our reader's.
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdCodecs, type EtcdEntry, type EtcdHardState, type EtcdSnapshot } from '../../src/codec/etcd.js';
import { ProtoReader } from '../../src/codec/protobuf.js';
import { RecordType } from '../../src/record/record-type.js';
import { listSegments } from '../../src/segment/names.js';
import { SegmentScanner } from '../../src/segment/scan.js';
import { Wal, type WalContents } from '../../src/wal.js';
import { EtcdProcess, etcdAvailable } from './etcd-process.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/etcd34-wal.tar.gz');

if (!etcdAvailable) {
  console.warn(
    'etcd34-live: `etcd`/`etcdctl` not found, live etcd interop skipped ' +
      '(apt-get install etcd-server etcd-client to run it)',
  );
}

type EtcdWal = Wal<EtcdEntry, EtcdHardState, EtcdSnapshot>;

async function readWal(dir: string): Promise<WalContents<EtcdEntry, EtcdHardState>> {
  const wal: EtcdWal = await Wal.openForRead(dir, undefined, { codecs: etcdCodecs });
  try {
    return await wal.readAll();
  } finally {
    await wal.close();
  }
}

/** etcdserverpb.Metadata, the WAL's metadata record: NodeID (1) and ClusterID (2), both uint64. */
function parseMetadata(bytes: Uint8Array): { nodeId: bigint; clusterId: bigint } {
  const r = new ProtoReader(bytes, 'etcdserverpb.Metadata');
  let nodeId = 0n;
  let clusterId = 0n;
  while (!r.done()) {
    const [f, wt] = r.key();
    if (f === 1 && wt === 0) nodeId = BigInt(r.uint64('NodeID'));
    else if (f === 2 && wt === 0) clusterId = BigInt(r.uint64('ClusterID'));
    else r.skip(wt);
  }
  return { nodeId, clusterId };
}

function expectConsecutive(entries: readonly EtcdEntry[]): void {
  expect(entries.length).toBeGreaterThan(0);
  const first = Number(entries[0]!.index);
  entries.forEach((e, i) => expect(Number(e.index)).toBe(first + i));
}

describe.skipIf(!etcdAvailable)('live etcd 3.4 (Debian etcd-server)', () => {
  let root: string;
  const running: EtcdProcess[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'x-etcd34-live-'));
  });

  afterAll(async () => {
    for (const etcd of running) await etcd.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('etcd restarted on the fixture agrees with etcdCodecs on member id, cluster id and term', async () => {
    // Read the fixture ourselves first, then hand a copy of it to etcd as its data dir.
    const ours = join(root, 'fixture-ours');
    await mkdir(ours);
    execFileSync('tar', ['-xzf', FIXTURE, '-C', ours]);
    const { metadata, state, entries } = await readWal(join(ours, 'wal'));
    const member = join(root, 'fixture-etcd', 'member');
    await mkdir(member, { recursive: true });
    await cp(join(ours, 'wal'), join(member, 'wal'), { recursive: true });

    const etcd = await EtcdProcess.start(join(root, 'fixture-etcd'), 'fixture');
    running.push(etcd);
    const status = etcd.status();
    await etcd.stop();

    const ids = parseMetadata(metadata);
    // A single member votes for itself: the vote we decoded is etcd's member id, exactly (far above 2^53).
    expect(status.memberId).toBeGreaterThan(BigInt(Number.MAX_SAFE_INTEGER));
    expect(typeof state!.vote).toBe('bigint');
    expect(state!.vote).toBe(status.memberId);
    expect(ids.nodeId).toBe(status.memberId);
    expect(ids.clusterId).toBe(status.clusterId);
    // On restart the member campaigns once (Raft §5.2), so etcd's term is the persisted term plus one, and its
    // log gains at least the new leader's empty entry (§5.4.2) after the last one we read.
    expect(status.raftTerm).toBe(BigInt(state!.term) + 1n);
    expect(status.raftIndex).toBeGreaterThan(BigInt(entries.at(-1)!.index));
    expect(BigInt(state!.commit)).toBe(BigInt(entries.at(-1)!.index));
  });

  it('reads a live WAL beside the writer, then after a clean stop, with payloads re-encoding to the same bytes', async () => {
    const data = join(root, 'live');
    // A small snapshot count so the WAL also holds snapshot records.
    const etcd = await EtcdProcess.start(data, 'live', ['--snapshot-count', '10']);
    running.push(etcd);
    const values = Array.from({ length: 30 }, (_, i) => `live-value-${i}-${'x'.repeat(i * 7)}`);
    values.forEach((v, i) => etcd.ctl('put', `live-key-${i}`, v));
    const status = etcd.status();
    const walDir = join(data, 'member', 'wal');

    // openForRead takes no lock: it works while etcd holds the WAL open for appending.
    const during = await readWal(walDir);
    expectConsecutive(during.entries);
    expect(during.state!.vote).toBe(status.memberId);
    expect(BigInt(during.state!.term)).toBe(status.raftTerm);
    const holds = (v: string): boolean =>
      during.entries.some((e) => e.data !== undefined && Buffer.from(e.data).includes(v));
    expect(values.filter((v) => !holds(v))).toEqual([]);

    await etcd.stop();
    const after = await readWal(walDir);
    expectConsecutive(after.entries);
    expect(after.state!.vote).toBe(status.memberId);
    expect(parseMetadata(after.metadata).nodeId).toBe(status.memberId);
    expect(BigInt(after.state!.commit)).toBeGreaterThanOrEqual(status.raftIndex);
    expect(BigInt(after.entries.at(-1)!.index)).toBeGreaterThanOrEqual(status.raftIndex);

    // Every payload etcd wrote decodes and re-encodes to exactly its bytes.
    const scanner = new SegmentScanner(await listSegments(walDir));
    const seen = new Map<number, number>();
    for await (const rec of scanner.records()) {
      const bytes = rec.data;
      if (bytes === undefined) continue;
      let again: Uint8Array | undefined;
      if (rec.type === RecordType.Entry) again = etcdCodecs.entry.encode(etcdCodecs.entry.decode(bytes));
      else if (rec.type === RecordType.State) again = etcdCodecs.state.encode(etcdCodecs.state.decode(bytes));
      else if (rec.type === RecordType.Snapshot)
        again = etcdCodecs.snapshot.encode(etcdCodecs.snapshot.decode(bytes));
      if (again === undefined) continue;
      expect(Buffer.from(again).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
      seen.set(rec.type, (seen.get(rec.type) ?? 0) + 1);
    }
    expect(seen.get(RecordType.Entry)).toBeGreaterThanOrEqual(values.length);
    expect(seen.get(RecordType.State) ?? 0).toBeGreaterThan(0);
    // 30 puts with --snapshot-count 10: etcd saved snapshot records beyond create's {0, 0}.
    expect(seen.get(RecordType.Snapshot) ?? 0).toBeGreaterThan(1);
    const snaps = await Wal.validSnapshots(walDir, { codecs: etcdCodecs });
    expect(snaps.filter((s) => Number(s.index) > 0).length).toBeGreaterThan(0);
    // etcd 3.4's walpb.Snapshot has only index and term (ConfState came in 3.5).
    expect(snaps.filter((s) => s.confState !== undefined)).toEqual([]);
  });
});
