#!/usr/bin/env node
// Packs @x/wal and @x/raft as npm would publish them (`npm pack`, which runs each package's `prepare` build), then
// checks the tarballs with the ecosystem's checkers: publint (package.json, exports, files) and
// @arethetypeswrong/cli (types resolve for ESM consumers; both packages are ESM-only, so the CommonJS rows are
// ignored with its esm-only profile). Prints the tarballs' paths; exits 1 when a check fails.
// Usage: node scripts/pack.mjs [--out DIR] [--no-check]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? args[outAt + 1] : mkdtempSync(join(tmpdir(), 'x-packs-'));
const check = !args.includes('--no-check');
mkdirSync(out, { recursive: true });

function run(cmd, argv, cwd) {
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', shell: process.platform === 'win32' });
  return { ok: r.status === 0, text: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

let failed = false;
for (const name of ['wal', 'raft']) {
  const dir = join(root, 'packages', name);
  const packed = run('npm', ['pack', '--pack-destination', out], dir);
  if (!packed.ok) {
    console.error(`npm pack failed in ${dir}:\n${packed.text}`);
    process.exit(1);
  }
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const tarball = join(out, `x-${name}-${version}.tgz`); // npm's name for @x/<name>@<version>
  console.log(tarball);
  if (!check) continue;
  const bin = join(root, 'node_modules', '.bin');
  for (const [tool, argv] of [
    ['publint', ['run', tarball, '--strict']],
    ['attw', [tarball, '--profile', 'esm-only', '--format', 'ascii']],
  ]) {
    const r = run(join(bin, tool), argv, root);
    if (!r.ok) {
      failed = true;
      console.error(`${tool} failed for ${tarball}:\n${r.text}`);
    } else console.error(`${tool}: ${tarball} ok`);
  }
}
process.exit(failed ? 1 : 0);
