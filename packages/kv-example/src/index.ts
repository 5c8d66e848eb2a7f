// @x/kv-example: a replicated key-value store on @x/raft and @x/wal. The cluster lands with its own issue;
// until then the package carries the WAL demo (`src/demo.ts`) that the root README's main command runs.
export {};
