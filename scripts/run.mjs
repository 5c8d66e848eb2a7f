#!/usr/bin/env node
// Entry point for the README's two commands (`npm start`, `npm test`) on a machine that has only Node and npm.
// It brings the pinned pnpm (through npx), installs with the frozen lockfile when needed, builds, then runs the job.
// The job runs as a child that gets every SIGINT, SIGTERM and SIGHUP sent to this process, and this process exits
// with the child's status only once the child has exited: stopping `npm start` stops the whole cluster.
// X_RUN_SKIP_SETUP=1 skips install and build (for tests of this script on an already built tree).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
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

/** Runs the job in a child, forwarding signals to it; exits with its status (128 + signal number if killed). */
function runJob(cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => {
    console.error(`could not start ${cmd}: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
  // npm does not pass a SIGTERM to its script: it dies and this process is reparented. That is a stop too.
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    child.kill('SIGTERM');
  }, 200);
  watch.unref();
}

if (process.env.X_RUN_SKIP_SETUP !== '1') {
  if (!existsSync(join(root, 'node_modules', '.modules.yaml')) || process.env.CI) {
    pnpm(['install', '--frozen-lockfile']);
  }
  pnpm(['run', 'build']);
}

switch (job) {
  case 'test':
    runJob(join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'vitest.cmd' : 'vitest'), [
      'run',
      ...extra,
    ]);
    break;
  case 'cluster':
    // The main job: a local 3-node replicated KV cluster; Ctrl-C stops it.
    runJob(process.execPath, [
      join(root, 'packages', 'kv-example', 'dist', 'cli', 'main.js'),
      'cluster',
      '--nodes',
      '3',
      ...extra,
    ]);
    break;
  case 'demo':
    runJob(process.execPath, [join(root, 'packages', 'kv-example', 'dist', 'demo.js'), ...extra]);
    break;
  default:
    console.error(`unknown job ${job}: use "test", "cluster" or "demo"`);
    process.exit(2);
}
