import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { SnapshotStore } from '../../src/snap/snapshot-store.js';
import { bytesOf } from '../helpers.js';

// The built executable (as bin.test.ts runs it); the in-process `run` covers the rest.
const BIN = fileURLToPath(new URL('../../dist/cli/bin.js', import.meta.url));

const confState = {
  voters: [1, 2, 3],
  learners: [4],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};
const DATA_BYTES = 3 * (1 << 20) + 123; // more than one 1 MiB read
let root: string;
let file: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'x-wal-snap-cli-'));
  const store = await SnapshotStore.open(join(root, 'snap'));
  file = await store.save({ index: 1234, term: 7, confState }, bytesOf(DATA_BYTES, 5));
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), errIsTTY: false };
  return { code: await run(argv, io), out, err: err.join('\n') };
}

function runBin(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

async function flipBit(at: number): Promise<void> {
  const raw = await readFile(file);
  raw[at] = (raw[at] ?? 0) ^ 0x10;
  await writeFile(file, raw);
}

interface Info {
  file: string;
  index: number;
  term: number;
  confState: typeof confState;
  fileSize: number;
  metadataSize: number;
  dataSize: number;
  dataOffset: number;
  crc: string;
}

describe('x-wal snap', () => {
  it('info prints index, term, conf state, sizes and the stored CRC; --json holds the same', async () => {
    const json = await cli('snap', 'info', file, '--json');
    expect(json.err).toBe('');
    expect(json.code).toBe(0);
    const info = JSON.parse(json.out[0]!) as Info;
    const { size } = await stat(file);
    expect(info).toMatchObject({
      file,
      index: 1234,
      term: 7,
      confState,
      fileSize: size,
      dataSize: DATA_BYTES,
    });
    expect(info.dataOffset).toBe(12 + info.metadataSize);
    expect(info.fileSize).toBe(info.dataOffset + DATA_BYTES + 16);
    // The CRC printed is the trailer's: the little-endian u32 8 bytes before the end.
    const raw = await readFile(file);
    expect(info.crc).toBe(
      `0x${raw
        .readUInt32LE(raw.length - 8)
        .toString(16)
        .padStart(8, '0')}`,
    );
    const text = await cli('snap', 'info', file);
    expect(text.code).toBe(0);
    expect(text.out).toContain('index        1234');
    expect(text.out).toContain('term         7');
    expect(text.out).toContain(`crc          ${info.crc}`);
    expect(text.out.find((l) => l.startsWith('confState'))).toContain('"voters":[1,2,3]');
  });

  it('verify passes an intact file, also one copied under another name (a backup)', async () => {
    const ok = await cli('snap', 'verify', file);
    expect(ok.code).toBe(0);
    expect(ok.out[0]).toMatch(/^ok: .*index 1234 term 7, 3145851 data bytes, crc 0x[0-9a-f]{8}$/);
    const backup = join(root, 'backup.snap');
    await copyFile(file, backup);
    expect((await cli('snap', 'verify', backup)).code).toBe(0);
  });

  it('verify finds a bit flip in the data: exit 1 naming the file and the CRC field offset; info does not read the data', async () => {
    const { size } = await stat(file);
    await flipBit(size - 16 - 1000); // inside the data
    const r = await cli('snap', 'verify', file);
    expect(r.code).toBe(1);
    expect(r.err).toContain('ERR_WAL_CRC_MISMATCH');
    expect(r.err).toContain(`crc at byte offset ${size - 8}: CRC mismatch`);
    expect(r.err).toContain(`(${file} at byte offset ${size - 8})`);
    expect((await cli('snap', 'info', file)).code).toBe(0);
  });

  it('a bit flip in the metadata or the magic fails both info and verify, naming the field', async () => {
    await flipBit(0);
    for (const cmd of ['info', 'verify']) {
      const r = await cli('snap', cmd, file);
      expect(r.code, cmd).toBe(1);
      expect(r.err, cmd).toContain('magic at byte offset 0');
    }
    await flipBit(0); // back
    await flipBit(12); // the metadata's first byte (its msgpack array header)
    const v = await cli('snap', 'verify', file);
    expect(v.code).toBe(1);
    expect(v.err).toContain('crc at byte offset'); // the CRC covers the metadata too
    const i = await cli('snap', 'info', file);
    expect(i.code).toBe(1);
    expect(i.err).toMatch(
      /ERR_WAL_CODEC: corrupt snapshot file: metadata at byte offset 12: metadata does not decode/,
    );
  });

  it('a truncated file (a short copy) is refused at its trailer; a flipped data length names dataLen', async () => {
    const { size } = await stat(file);
    await truncate(file, size - 5);
    const r = await cli('snap', 'verify', file);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`trailer at byte offset ${size - 5 - 4}: no "SNAP" trailer`);
    await truncate(file, 20);
    expect((await cli('snap', 'info', file)).err).toContain(
      'size at byte offset 20: file of 20 bytes is shorter than 28',
    );
  });

  it('a damaged data length field is named', async () => {
    const { size } = await stat(file);
    await flipBit(size - 16); // the dataLen u64's low byte
    const r = await cli('snap', 'info', file);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`dataLen at byte offset ${size - 16}: data length`);
  });

  it('a file named for another term and index than its metadata is refused; a missing file or a directory is an error', async () => {
    const renamed = join(root, '0000000000000007-0000000000000999.snap');
    await copyFile(file, renamed);
    const r = await cli('snap', 'verify', renamed);
    expect(r.code).toBe(1);
    expect(r.err).toContain('does not match the file name');
    const missing = await cli('snap', 'info', join(root, 'nope.snap'));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('ERR_WAL_FILE_NOT_FOUND');
    await mkdir(join(root, 'd'));
    expect((await cli('snap', 'verify', join(root, 'd'))).err).toContain('not a regular file');
  });

  it('refuses bad arguments with exit 2', async () => {
    expect((await cli('snap', 'info')).code).toBe(2);
    expect((await cli('snap', 'frob', file)).code).toBe(2);
    expect((await cli('snap', 'info', file, 'extra')).code).toBe(2);
    expect((await cli('snap', 'info', file, '--codec', 'raw')).code).toBe(1);
  });

  it('the built bin: info --json, and verify exits 1 on a bit flip', async () => {
    const info = await runBin(['snap', 'info', file, '--json']);
    expect(info.err).toBe('');
    expect(info.code).toBe(0);
    expect((JSON.parse(info.out) as Info).index).toBe(1234);
    await flipBit(100);
    const bad = await runBin(['snap', 'verify', file]);
    expect(bad.code).toBe(1);
    expect(bad.err.match(/ERR_WAL_CRC_MISMATCH/g)).toHaveLength(1);
    expect(bad.err).toContain(file);
  });
});
