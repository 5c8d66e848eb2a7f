import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The core is pure (no I/O, no clock, no timers, no ambient randomness): eslint.config.js enforces it on the core
// folders. This checks that the rule bites, on a core file's path, so that a config change cannot switch it off
// unnoticed, and that the runtime folders stay free to do I/O.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function ruleIds(file: string, code: string): Promise<string[]> {
  // With CI=true, typescript-eslint assumes a single run over unchanged files and parses the file from disk,
  // ignoring the text given here; this test lints text that is not on disk.
  const eslint = new ESLint({
    cwd: ROOT,
    overrideConfig: { languageOptions: { parserOptions: { disallowAutomaticSingleRunInference: true } } },
  });
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${file}` });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

const IMPURE = [
  "import { readFileSync } from 'node:fs';",
  "import { connect } from 'net';",
  "import { TcpTransport } from '../transport/tcp-transport.js';",
  'export const impure = (): unknown[] => [readFileSync, connect, TcpTransport, Date.now(), Math.random(), new Date(), setTimeout, process.env, Buffer];',
].join('\n');

describe('the pure core (lint)', () => {
  it('refuses node:* and I/O imports, runtime imports, timers, clocks and ambient randomness in core folders', async () => {
    const ids = await ruleIds('packages/raft/src/raft/raft.ts', IMPURE);
    expect(ids.filter((id) => id === 'no-restricted-imports')).toHaveLength(3);
    expect(ids.filter((id) => id === 'no-restricted-properties')).toHaveLength(2);
    expect(ids.filter((id) => id === 'no-restricted-syntax')).toHaveLength(1);
    expect(ids.filter((id) => id === 'no-restricted-globals')).toHaveLength(3);
    for (const file of [
      'packages/raft/src/quorum/majority.ts',
      'packages/raft/src/raw-node.ts',
      'packages/raft/src/session/with-sessions.ts',
    ]) {
      expect(
        await ruleIds(file, "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;"),
      ).toContain('no-restricted-imports');
    }
  }, 60_000);

  it("keeps the runtime out of the core's entry point (`@x/raft`): it is exported from `@x/raft/node`", async () => {
    const reexport =
      "export { RaftNode } from './node/raft-node.js';\nexport { TcpTransport } from './transport/tcp-transport.js';";
    const ids = await ruleIds('packages/raft/src/index.ts', reexport);
    expect(ids.filter((id) => id === 'no-restricted-imports')).toHaveLength(2);
    expect(await ruleIds('packages/raft/src/node/index.ts', reexport)).toEqual([]);
  }, 60_000);

  it('leaves the runtime free to do I/O', async () => {
    const ids = await ruleIds('packages/raft/src/node/raft-node.ts', IMPURE);
    expect(ids.filter((id) => id.startsWith('no-restricted'))).toEqual([]);
  }, 60_000);
});
