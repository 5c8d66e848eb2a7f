// The README's walkthrough is the test: its ```ts blocks between the walkthrough markers, in order, are one ES
// module, which this file writes out, type-checks and runs. The README is the only copy of the code, so the two
// cannot drift; the walkthrough's own `assert`s are what it checks.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterEach, describe, expect, it } from 'vitest';
import { reservePortRun } from '../../../test-support/ports.js';

/** A region of the README whose ```ts blocks are one module: `<!-- NAME: start -->` ... `<!-- NAME: end -->`. */
type Region = 'walkthrough' | 'simulate';

/** Where the module's package imports point: the sources, as this package's other tests import them. */
const SOURCES: Record<string, string> = {
  '@x/raft': fileURLToPath(new URL('../src/index.js', import.meta.url)),
  '@x/raft/node': fileURLToPath(new URL('../src/node/index.js', import.meta.url)),
  '@x/raft/testing': fileURLToPath(new URL('../src/testing/index.js', import.meta.url)),
  '@x/wal': fileURLToPath(new URL('../../wal/src/index.js', import.meta.url)),
};

/** The one line of the walkthrough the test replaces: the first of the ports the nodes listen on. */
const BASE_PORT_LINE = /^const basePort = \d+;.*$/m;

interface Block {
  /** The README line the block's code starts on (1-based). */
  line: number;
  code: string;
}

/** The ```ts blocks between a region's markers, in order. Any other fenced block there is refused. */
function walkthroughBlocks(readme: string, region: Region = 'walkthrough'): Block[] {
  const START = `<!-- ${region}: start -->`;
  const END = `<!-- ${region}: end -->`;
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks ${START} ... ${END}`);
  const lines = readme.split('\n');
  const first = readme.slice(0, start).split('\n').length;
  const last = readme.slice(0, end).split('\n').length;
  const blocks: Block[] = [];
  let open: Block | undefined;
  for (let n = first; n <= last; n++) {
    const text = lines[n - 1]!;
    if (open === undefined && text.startsWith('```')) {
      if (text !== '```ts')
        throw new Error(`README.md:${n}: a walkthrough block must be \`\`\`ts, not ${text}`);
      open = { line: n + 1, code: '' };
    } else if (open !== undefined && text === '```') {
      blocks.push(open);
      open = undefined;
    } else if (open !== undefined) open.code += `${text}\n`;
  }
  if (open !== undefined)
    throw new Error(`README.md:${open.line - 1}: the block is not closed before ${END}`);
  return blocks;
}

/**
 * The blocks as one module: each preceded by a comment naming its README line, package imports pointed at the
 * sources, and (when `basePort` is given) the `basePort` line set to it.
 */
function toModule(blocks: Block[], basePort?: number): string {
  let code = blocks.map((b) => `// README.md:${b.line}\n${b.code}`).join('\n');
  code = code.replace(/ from '(@x\/[a-z/]+)';/g, (whole, specifier: string) => {
    const path = SOURCES[specifier];
    if (path === undefined)
      throw new Error(`the walkthrough imports ${specifier}, which this test does not map`);
    return ` from ${JSON.stringify(path)};`;
  });
  if (basePort !== undefined) {
    expect(code.match(new RegExp(BASE_PORT_LINE, 'gm')), 'one `const basePort = …;` line').toHaveLength(1);
    code = code.replace(BASE_PORT_LINE, `const basePort = ${basePort};`);
  }
  return code;
}

async function readme(): Promise<string> {
  return readFile(new URL('../README.md', import.meta.url), 'utf8');
}

describe("the README's walkthrough", () => {
  const dirs: string[] = [];
  const tmpdirBefore = process.env.TMPDIR;
  afterEach(async () => {
    if (tmpdirBefore === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpdirBefore;
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  async function writeModule(code: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'raft-walkthrough-'));
    dirs.push(dir);
    // An ES module, as the README tells users to write (top-level await needs one).
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
    const file = join(dir, 'walkthrough.ts');
    await writeFile(file, code);
    return file;
  }

  it('has its code in ```ts blocks between the markers, in both parts', async () => {
    const blocks = walkthroughBlocks(await readme());
    const code = blocks.map((b) => b.code).join('');
    // Both halves are there: in-process over the memory transport, then TCP with the WAL and a restart.
    for (const step of [
      'new MemoryNetwork()',
      'storage.crash()',
      'new TcpTransport(',
      'addMember(',
      'rm(home',
    ])
      expect(code).toContain(step);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
  });

  async function compileProblems(region: Region): Promise<string[]> {
    const file = await writeModule(toModule(walkthroughBlocks(await readme(), region)));
    const configPath = fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url));
    const config = ts.getParsedCommandLineOfConfigFile(
      configPath,
      { noEmit: true },
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    );
    const program = ts.createProgram([file], {
      ...config!.options,
      noEmit: true,
      composite: false,
      declaration: false,
      declarationMap: false,
      // The module sits in a temporary directory: find @types/node where the repository has it.
      typeRoots: [fileURLToPath(new URL('../../../node_modules/@types', import.meta.url))],
    });
    const source = program.getSourceFile(file)!;
    const problems = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ].map((d) => {
      const at = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line;
      // The nearest `// README.md:N` comment above the problem names the README line.
      const lines = source.text.split('\n');
      let k = at;
      while (k > 0 && !lines[k]!.startsWith('// README.md:')) k--;
      const readmeLine = Number(lines[k]!.slice('// README.md:'.length)) + (at - k - 1);
      return `README.md:${readmeLine}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    return problems;
  }

  it("compiles: strict TypeScript with the project's compiler options", async () => {
    expect(await compileProblems('walkthrough')).toEqual([]);
  });

  it('the simulate() section compiles and runs: real RaftNodes with its state machine, a linearizable history', async () => {
    const blocks = walkthroughBlocks(await readme(), 'simulate');
    expect(blocks.map((b) => b.code).join('')).toContain('checkLinearizable(');
    expect(await compileProblems('simulate')).toEqual([]);
    await import(pathToFileURL(await writeModule(toModule(blocks))).href);
  });

  it('runs top to bottom: three nodes in process, then three over TCP with WALs, a fourth joins, all restart', async () => {
    const basePort = await reservePortRun(4, 1); // basePort + 1 … basePort + 4 bound a moment ago
    const file = await writeModule(toModule(walkthroughBlocks(await readme()), basePort));
    // The walkthrough makes its data directory under tmpdir(): point that at a directory this test removes, so
    // nothing is left behind even when an assert in the walkthrough fails half-way.
    const tmp = await mkdtemp(join(tmpdir(), 'raft-walkthrough-tmp-'));
    dirs.push(tmp);
    process.env.TMPDIR = tmp;
    await import(pathToFileURL(file).href);
  });
});
