#!/usr/bin/env node
// The root README's "main job" until the KV cluster lands: a short tour of @x/wal as a durable log.
// It writes entries with group commit, crashes the tail on purpose (a torn write), repairs, and reads back.
import { mkdtemp, readdir, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal, WalError, type Entry } from '@x/wal';

const ENTRIES = 20_000;
const PAYLOAD = 100;

async function main(): Promise<void> {
  const dir = join(await mkdtemp(join(tmpdir(), 'x-wal-demo-')), 'wal');
  const say = (s: string): void => void process.stdout.write(`${s}\n`);
  try {
    const wal = await Wal.create(dir, new TextEncoder().encode('demo-cluster'), {
      segmentSizeBytes: 1_000_000,
    });
    const started = process.hrtime.bigint();
    // 64 writers at a time: concurrent saves share one write and one fdatasync (group commit).
    const inflight: Promise<void>[] = [];
    for (let i = 1; i <= ENTRIES; i++) {
      const data = new Uint8Array(PAYLOAD).fill(i & 0xff);
      const entry: Entry = { index: i, term: 1, data };
      inflight.push(wal.saveEntry([entry]));
      if (inflight.length === 64) await Promise.all(inflight.splice(0));
    }
    await Promise.all(inflight);
    await wal.save({ term: 1, vote: 1, commit: ENTRIES }, []);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    await wal.close();
    const segments = (await readdir(dir)).filter((f) => f.endsWith('.wal')).sort();
    say(`wrote ${ENTRIES} entries of ${PAYLOAD} B durably in ${ms.toFixed(0)} ms`);
    say(`(${Math.round((ENTRIES / ms) * 1000)} entries/s, every promise resolved after fdatasync)`);
    say(`segments on disk: ${segments.length} (${segments[0] ?? ''} ... ${segments.at(-1) ?? ''})`);

    // Simulate a crash that tore the last record: cut the last segment mid-record.
    const last = join(dir, segments.at(-1) ?? '');
    const r = await Wal.openForRead(dir);
    const before = await r.readAll();
    await r.close();
    // The segment is preallocated with zeros; its records end at the last non-zero byte. Cut 150 bytes before
    // that, inside the last entry, as a crash in the middle of a write would.
    const bytes = await readFile(last);
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    await truncate(last, end - 150);
    say(`tore the tail of ${segments.at(-1) ?? ''}: cut at byte ${end - 150} of ${end} written`);
    try {
      const w = await Wal.open(dir);
      await w.readAll();
      await w.close();
      say('opened without repair (the cut fell in preallocated zeros)');
    } catch (err) {
      if (!(err instanceof WalError)) throw err;
      say(`open refused: ${err.message}`);
      say(`repair: ${String(await Wal.repair(dir))}`);
    }
    const w = await Wal.open(dir);
    const after = await w.readAll();
    await w.close();
    say(
      `recovered ${after.entries.length} entries (had ${before.entries.length}); hard state ${JSON.stringify(after.state)}`,
    );
    say(`metadata: ${new TextDecoder().decode(after.metadata)}`);
  } finally {
    await rm(join(dir, '..'), { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${String(err)}\n`);
  process.exitCode = 1;
});
