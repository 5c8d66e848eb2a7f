#!/usr/bin/env node
// The `prepare` of @x/wal and @x/raft: builds the package in the working directory with `tsc -b`. npm and pnpm run
// it when the package is installed from a directory (`file:`) or from git, and before `npm pack`. In this
// workspace (after `pnpm install`) TypeScript is there and this is the whole job. On a fresh clone that nobody
// installed, it is not: then the package's own dependencies (TypeScript among its devDependencies) are installed
// first, with npm, into the package's own node_modules, so that a `file:` or git dependency works from a bare clone.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const cwd = process.cwd();

function tscPath() {
  try {
    return createRequire(join(cwd, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error(`prepare: ${cmd} ${args.join(' ')} failed in ${cwd}`);
    process.exit(r.status ?? 1);
  }
}

let tsc = tscPath();
if (tsc === undefined) {
  console.error(`prepare: no TypeScript here; installing ${cwd}'s own dependencies with npm to build it`);
  run('npm', ['install', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund']);
  tsc = tscPath();
  if (tsc === undefined) {
    console.error('prepare: TypeScript is still missing after npm install');
    process.exit(1);
  }
}
run(process.execPath, [tsc, '-b']);
