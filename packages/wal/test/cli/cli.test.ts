import { execFileSync } from 'node:child_process';
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { Wal } from '../../src/wal.js';
import { etcdCodecs } from '../../src/codec/etcd.js';

let root: string;
let dir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'x-wal-cli-'));
  dir = join(root, 'mine');
  const wal = await Wal.create(dir, new TextEncoder().encode('meta'), { segmentSizeBytes: 4096 });
  for (let i = 1; i <= 60; i++)
    await wal.save({ term: 1, vote: 1, commit: i - 1 }, [
      { index: i, term: 1, data: new Uint8Array(100).fill(i) },
    ]);
  await wal.close();
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), errIsTTY: false };
  return { code: await run(argv, io), out, err };
}

async function lastSegment(): Promise<string> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.wal')).sort();
  return join(dir, names.at(-1)!);
}

/** Overwrites bytes at the end of the written data of a file (the file is preallocated with zeros after it). */
async function patchNearEnd(file: string, back: number, bytes: number[]): Promise<number> {
  const fh = await open(file, 'r+');
  const { size } = await stat(file);
  const buf = Buffer.alloc(size);
  await fh.read(buf, 0, size, 0);
  let end = size;
  while (end > 0 && buf[end - 1] === 0) end--;
  const at = end - back;
  await fh.write(Buffer.from(bytes), 0, bytes.length, at);
  await fh.close();
  return at;
}

describe('x-wal', () => {
  it('dump prints one line per record with type, index/term, size and crc; --json is one object per line', async () => {
    const text = await cli('dump', dir);
    expect(text.code).toBe(0);
    expect(text.out.filter((l) => / entry /.test(l))).toHaveLength(60);
    expect(text.out[0]).toMatch(/0000000000000000-0000000000000000\.wal +0 crc/);
    expect(text.out.find((l) => l.includes(' entry '))).toMatch(/index=1 term=1 .*size=\d+ crc=[0-9a-f]{8}/);
    const json = await cli('dump', dir, '--json');
    const objs = json.out.map((l) => JSON.parse(l) as { type: string; index?: number; segment: string });
    expect(objs.filter((o) => o.type === 'entry').map((o) => o.index)).toEqual(
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    expect(new Set(objs.map((o) => o.segment)).size).toBeGreaterThan(1);
  });

  it('stats reports segments, entries, index range and the last hard state', async () => {
    const r = await cli('stats', dir, '--json');
    const s = JSON.parse(r.out[0]!) as {
      segments: number;
      entries: number;
      firstIndex: number;
      lastIndex: number;
      lastState: { commit: number };
    };
    expect(s.entries).toBe(60);
    expect([s.firstIndex, s.lastIndex]).toEqual([1, 60]);
    expect(s.lastState.commit).toBe(59);
    expect(s.segments).toBeGreaterThan(1);
  });

  it('verify: exit 0 when clean; a torn tail gives exit 1 naming file and offset; repair fixes it', async () => {
    expect((await cli('verify', dir)).code).toBe(0);
    const seg = await lastSegment();
    const fh = await open(seg, 'r+');
    const { size } = await stat(seg);
    const buf = Buffer.alloc(size);
    await fh.read(buf, 0, size, 0);
    let end = size;
    while (end > 0 && buf[end - 1] === 0) end--;
    await fh.truncate(end - 20); // the last record is cut short: a torn write
    await fh.close();
    const bad = await cli('verify', dir);
    expect(bad.code).toBe(1);
    expect(bad.err.join('\n')).toMatch(/ERR_WAL_UNEXPECTED_EOF.*\.wal.*offset|offset.*\.wal/s);
    const fixed = await cli('repair', dir);
    expect(fixed.code).toBe(0);
    expect((await readdir(dir)).some((n) => n.endsWith('.broken'))).toBe(true);
    expect((await cli('verify', dir)).code).toBe(0);
  });

  it('verify reports a bit flip mid-log as ERR_WAL_CRC_MISMATCH, and repair refuses to cut it', async () => {
    const first = join(dir, '0000000000000000-0000000000000000.wal');
    await patchNearEnd(first, 60, [0xff]);
    const r = await cli('verify', dir);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain('ERR_WAL_CRC_MISMATCH');
    expect((await cli('repair', dir)).code).toBe(1);
  });

  it('reads an etcd WAL with --codec etcd, printing 64-bit ids exactly', async () => {
    execFileSync('tar', ['-xzf', join(import.meta.dirname, '../fixtures/etcd34-wal.tar.gz'), '-C', root]);
    const etcdDir = join(root, 'wal');
    const r = await cli('stats', etcdDir, '--json', '--codec', 'etcd');
    const s = JSON.parse(r.out[0]!) as { lastState: { vote: string | number }; segments: number };
    const w = await Wal.openForRead(etcdDir, undefined, { codecs: etcdCodecs });
    const { state } = await w.readAll();
    await w.close();
    expect(String(s.lastState.vote)).toBe(String(state!.vote));
    expect(s.segments).toBe(2);
  });

  it('refuses bad arguments with exit 2', async () => {
    expect((await cli('dump')).code).toBe(2);
    expect((await cli('dump', dir, '--codec', 'nope')).code).toBe(2);
    expect((await cli('frobnicate', dir)).code).toBe(2);
    expect((await cli('dump', dir, '--codec', 'raw')).code).toBe(0);
  });
});
