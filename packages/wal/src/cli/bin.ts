#!/usr/bin/env node
// The `x-wal` executable. It only calls `run`: it asks nothing of how it was started, so it behaves the same through
// npm's bin symlink, npx, `pnpm exec` or by path (a "main module" test on `process.argv[1]` fails through a symlink).
import { run } from './main.js';

// A reader that stops early (`x-wal dump DIR | head`) closes the pipe: that ends the output, quietly and with
// status 0, as with any Unix filter.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    process.exitCode = 1;
  });
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`x-wal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
