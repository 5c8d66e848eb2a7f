import { mkdir, readdir, symlink, writeFile, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Transpiles `src/` to plain JavaScript in `outDir` (no type check; the suite type-checks separately), so a child
 * process started with plain `node` can run the real WAL code. `outDir/node_modules` links the package's
 * dependencies. Returns the path of the transpiled `index.js`.
 */
export async function transpileSrc(outDir: string): Promise<string> {
  const src = join(PKG, 'src');
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) out.push(...(await walk(p)));
      else if (e.name.endsWith('.ts')) out.push(p);
    }
    return out;
  };
  for (const file of await walk(src)) {
    const { outputText } = ts.transpileModule(await readFile(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    const dest = join(outDir, relative(src, file)).replace(/\.ts$/, '.js');
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(dest, outputText);
  }
  await writeFile(join(outDir, 'package.json'), '{"type":"module"}\n');
  await symlink(join(PKG, 'node_modules'), join(outDir, 'node_modules'));
  return join(outDir, 'index.js');
}
