import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The packages as a user outside this repository gets them: `npm pack` (which runs each package's `prepare`
// build) makes the tarballs, and plain npm installs them into an empty project in the temporary directory, with
// their dependencies from the registry. A short program then uses both (and @x/raft's runtime entry,
// `@x/raft/node`), and the installed `x-wal` bin runs.

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const PACK = join(ROOT, 'scripts', 'pack.mjs');

let project: string;
beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'x-packages-'));
}, 60_000);
afterAll(() => rm(project, { recursive: true, force: true }));

const PROGRAM = `
import { Wal, WalError } from '@x/wal';
import * as core from '@x/raft';
import { EntryType, MemoryStorage, RawNode } from '@x/raft';
import { MemoryDurableStorage, MemoryNetwork, RaftNode } from '@x/raft/node';

// @x/wal: append durably, reopen, read back.
const wal = await Wal.create('wal', new TextEncoder().encode('installed'));
await wal.saveEntry([1, 2, 3].map((index) => ({ index, term: 1, data: new TextEncoder().encode('e' + index) })));
let gap = '';
await wal.saveEntry([{ index: 9, term: 1, data: new Uint8Array(0) }]).catch((e) => (gap = e instanceof WalError ? e.code : 'other'));
await wal.close();
const again = await Wal.open('wal');
const { entries } = await again.readAll();
await again.close();

// @x/raft: a one-node cluster elects itself and commits a proposal.
const storage = new MemoryStorage();
const node = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage });
node.bootstrap([{ id: 1 }]);
const applied = [];
for (let i = 0; i < 40 && applied.length === 0; i++) {
  node.tick();
  if (i === 30) node.propose(new TextEncoder().encode('hello'));
  while (node.hasReady()) {
    const rd = node.ready();
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    for (const e of rd.committedEntries)
      if (e.type === EntryType.Normal && e.data.byteLength > 0) applied.push(new TextDecoder().decode(e.data));
    node.advance(rd);
  }
}

// @x/raft/node: a one-node RaftNode over the in-memory ports; the core entry exports none of the runtime.
const counter = { n: 0, apply() { return ++this.n; }, snapshot() { return new Uint8Array(0); }, restore() {} };
const raftNode = await RaftNode.start({
  id: 1,
  peers: [{ id: 1 }],
  storage: new MemoryDurableStorage(),
  stateMachine: counter,
  transport: new MemoryNetwork().transport(1),
});
await raftNode.waitForLeader(30_000);
const { result } = await raftNode.proposeForResult(new TextEncoder().encode('one'));
await raftNode.stop();
const runtimeInCore = ['RaftNode', 'TcpTransport', 'MemoryNetwork', 'MemoryDurableStorage'].filter((n) => n in core);

console.log(JSON.stringify({ indexes: entries.map((e) => e.index), gap, applied, result, runtimeInCore }));
`;

describe('the packed packages, installed with plain npm outside the workspace', () => {
  it('install, import (ESM), run a program against both, and run the x-wal bin through npm', async () => {
    const { stdout } = await run(process.execPath, [PACK, '--out', join(project, 'tarballs')], {
      timeout: 120_000,
    });
    const [walTgz, raftTgz] = stdout.trim().split('\n');
    expect(walTgz).toMatch(/x-wal-.*\.tgz$/);
    expect(raftTgz).toMatch(/x-raft-.*\.tgz$/);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'user-app', private: true, type: 'module' }),
    );
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', walTgz!, raftTgz!], {
      cwd: project,
      timeout: 180_000,
    });
    await writeFile(join(project, 'main.js'), PROGRAM);
    const out = await run(process.execPath, ['main.js'], { cwd: project, timeout: 60_000 });
    expect(JSON.parse(out.stdout)).toEqual({
      indexes: [1, 2, 3],
      gap: 'ERR_WAL_INDEX_GAP',
      applied: ['hello'],
      result: 1,
      runtimeInCore: [],
    });

    // npm's bin link (a symlink in node_modules/.bin) and npx.
    const verify = await run(join(project, 'node_modules', '.bin', 'x-wal'), ['verify', 'wal'], {
      cwd: project,
    });
    expect(verify.stdout).toContain('ok: wal verified');
    const stats = await run('npx', ['--no-install', 'x-wal', 'stats', 'wal', '--json'], { cwd: project });
    expect((JSON.parse(stats.stdout) as { entries: number }).entries).toBe(3);

    // ESM-only, and it says so: require() of the package fails with Node's "not exported" error, not a crash inside.
    const cjs = await run(
      process.execPath,
      ['-e', "try { require('@x/wal'); console.log('loaded') } catch (e) { console.log(e.code) }"],
      {
        cwd: project,
      },
    );
    expect(['ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_REQUIRE_ESM']).toContain(cjs.stdout.trim());
  }, 300_000);

  it('a file: dependency on a bare clone (no install, no dist) builds itself through prepare', async () => {
    // A bare clone: the two packages' sources and what their build reads, without node_modules or dist.
    const clone = join(project, 'clone');
    const skip = (src: string): boolean => !/[/\\](node_modules|dist)([/\\]|$)|\.tsbuildinfo$/.test(src);
    for (const part of ['packages/wal', 'packages/raft', 'scripts/prepare-package.mjs', 'tsconfig.base.json'])
      await cp(join(ROOT, part), join(clone, part), { recursive: true, filter: skip });
    const app = join(project, 'file-app');
    await mkdir(app);
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'file-app', private: true, type: 'module' }),
    );
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        join(clone, 'packages/wal'),
        join(clone, 'packages/raft'),
      ],
      { cwd: app, timeout: 180_000 },
    );
    await writeFile(
      join(app, 'main.js'),
      "import { Wal } from '@x/wal'; import { RawNode } from '@x/raft'; import { RaftNode } from '@x/raft/node'; console.log(typeof Wal.create, typeof RawNode, typeof RaftNode);",
    );
    const out = await run(process.execPath, ['main.js'], { cwd: app });
    expect(out.stdout.trim()).toBe('function function function');
  }, 300_000);
});
