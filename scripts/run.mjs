#!/usr/bin/env node
// Entry point for the README's two commands (`npm start`, `npm test`) on a machine that has only Node and npm.
// It brings the pinned pnpm (through npx), installs with the frozen lockfile when needed, builds, then runs the job.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmSpec = pkg.packageManager; // e.g. pnpm@10.34.9
const job = process.argv[2] ?? 'test';
const extra = process.argv.slice(3);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
    ...opts,
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function pnpm(args) {
  // Prefer a pnpm of the pinned major already on PATH; otherwise npx fetches the pinned one.
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' });
  const want = pnpmSpec.split('@')[1].split('.')[0];
  if (probe.status === 0 && probe.stdout.trim().split('.')[0] === want) run('pnpm', args);
  else run('npx', ['--yes', pnpmSpec, ...args]);
}

if (!existsSync(join(root, 'node_modules', '.modules.yaml')) || process.env.CI) {
  pnpm(['install', '--frozen-lockfile']);
}
pnpm(['run', 'build']);

switch (job) {
  case 'test':
    pnpm(['exec', 'vitest', 'run', ...extra]);
    break;
  case 'cluster':
    // The main job: a local 3-node replicated KV cluster; Ctrl-C stops it.
    run(process.execPath, [
      join(root, 'packages', 'kv-example', 'dist', 'cli', 'main.js'),
      'cluster',
      '--nodes',
      '3',
      ...extra,
    ]);
    break;
  case 'demo':
    run(process.execPath, [join(root, 'packages', 'kv-example', 'dist', 'demo.js'), ...extra]);
    break;
  default:
    console.error(`unknown job ${job}: use "test", "cluster" or "demo"`);
    process.exit(2);
}
