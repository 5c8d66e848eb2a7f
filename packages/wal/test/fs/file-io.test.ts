import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirDurable } from '../../src/fs/durable-mkdir.js';
import { fileIo, installFileIo, realFileIo, type FileIo } from '../../src/fs/file-io.js';
import { tempParent } from '../helpers.js';

let t: Awaited<ReturnType<typeof tempParent>>;
beforeEach(async () => {
  t = await tempParent();
});
afterEach(async () => {
  await t.cleanup();
});

/** Installs a layer that records the directories fsynced; returns them and the restore function. */
function spyDirSyncs(): { synced: string[]; restore: () => void } {
  const synced: string[] = [];
  const restore = installFileIo({
    ...realFileIo,
    fsyncDir: async (dir) => {
      synced.push(dir);
      await realFileIo.fsyncDir(dir);
    },
  });
  return { synced, restore };
}

describe('installFileIo', () => {
  it('routes calls to the installed layer, a class instance with prototype methods included, until restored', async () => {
    class CountingIo implements FileIo {
      calls = 0;
      open = realFileIo.open;
      writeAll = realFileIo.writeAll;
      write = realFileIo.write;
      writeZeros = realFileIo.writeZeros;
      datasync = realFileIo.datasync;
      datasyncInline = realFileIo.datasyncInline;
      truncate = realFileIo.truncate;
      rename = realFileIo.rename;
      unlink = realFileIo.unlink;
      mkdir = realFileIo.mkdir;
      rmdir = realFileIo.rmdir;
      rmTree = realFileIo.rmTree;
      copyFile = realFileIo.copyFile;
      async fsyncDir(dir: string): Promise<void> {
        this.calls++; // `this` is the instance: installFileIo binds the methods
        await realFileIo.fsyncDir(dir);
      }
    }
    const counting = new CountingIo();
    const restore = installFileIo(counting);
    try {
      await fileIo.fsyncDir(t.parent);
    } finally {
      restore();
    }
    await fileIo.fsyncDir(t.parent);
    expect(counting.calls).toBe(1);
  });
});

describe('mkdirDurable', () => {
  it('creates missing directories and fsyncs the parent of each one it created', async () => {
    const { synced, restore } = spyDirSyncs();
    const deep = join(t.parent, 'a', 'b', 'c');
    try {
      await mkdirDurable(deep);
    } finally {
      restore();
    }
    expect((await stat(deep)).isDirectory()).toBe(true);
    expect([...synced].sort()).toEqual([t.parent, join(t.parent, 'a'), join(t.parent, 'a', 'b')].sort());
  });

  it('fsyncs the parent of a directory that already exists (a killed process may have left it unsynced)', async () => {
    await mkdirDurable(join(t.parent, 'x'));
    const { synced, restore } = spyDirSyncs();
    try {
      await mkdirDurable(join(t.parent, 'x'));
    } finally {
      restore();
    }
    expect(synced).toEqual([t.parent]);
  });
});
