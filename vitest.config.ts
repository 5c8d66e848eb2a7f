import { defineConfig } from 'vitest/config';

// One root config, one project per package. Timed assertions are not allowed here: performance lives in
// each package's `bench` script.
export default defineConfig({
  test: {
    projects: ['wal', 'raft', 'kv-example'].map((name) => ({
      extends: true,
      test: {
        name,
        root: `packages/${name}`,
        include: ['test/**/*.test.ts'],
        testTimeout: 60_000,
        hookTimeout: 60_000,
      },
    })),
  },
});
