import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropSyncs } from './break-io.js';
import { explore, failureReport, optionsFromEnv, summary } from './explore.js';
import { loadRecording, saveRecording } from './trace.js';
import { cutWorkload, snapshotWorkload, BASE } from './workloads.js';

// The explorer must find planted bugs: the same workloads as explorer.test.ts, run over a file-io layer with one
// sync removed. Each must produce a failing crash state that loses acknowledged data, reported with its trace
// position and files.

describe('the explorer finds planted crash-consistency bugs', () => {
  it('a cut that does not fsync the WAL directory after renaming the new segment loses acknowledged entries', async () => {
    const o = await optionsFromEnv();
    const x = await explore(cutWorkload('cut-without-dir-fsync', BASE), {
      ...o,
      recording: undefined,
      maxFailures: 1,
      saveTrace: false,
      breakIo: (io) => dropSyncs(io, (c) => c.op === 'fsyncDir' && basename(c.path) === 'wal'),
    });
    console.log(summary(x));
    console.log(failureReport(x));
    expect(x.failures.length).toBe(1);
    const f = x.failures[0]!;
    expect(f.error).toMatch(/acknowledged entries up to \d+, recovered up to \d+/);
    // The state kept the data but dropped the rename that named the new segment.
    expect(f.state).toMatch(/rename wal\/\d\.tmp -> wal\/[0-9a-f-]+\.wal: DROPPED/);
    expect(f.files).toMatch(/wal\/0000000000000000-0000000000000000\.wal/);

    // The saved trace and the seed reproduce the same failing state (what WAL_CRASH_TRACE and WAL_CRASH_SEED do).
    const dir = await mkdtemp(join(tmpdir(), 'x-wal-trace-'));
    try {
      await saveRecording(join(dir, 'trace.json'), x.recording);
      const again = await explore(cutWorkload('cut-without-dir-fsync', BASE), {
        ...o,
        recording: await loadRecording(join(dir, 'trace.json')),
        maxFailures: 1,
      });
      expect(again.failures).toEqual(x.failures);
      expect(again.generated).toBe(x.generated);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a snapshot renamed into place without fdatasync of its data is loaded torn, or lost after release', async () => {
    const o = await optionsFromEnv();
    const x = await explore(snapshotWorkload('snapshot-without-fdatasync'), {
      ...o,
      recording: undefined,
      maxFailures: 1,
      saveTrace: false,
      breakIo: (io) => dropSyncs(io, (c) => c.op === 'datasync' && c.path.endsWith('.snap.tmp')),
    });
    console.log(summary(x));
    console.log(failureReport(x));
    expect(x.failures.length).toBe(1);
    const f = x.failures[0]!;
    expect(f.error).toMatch(/snapshot \d+ was acknowledged .* but the newest loadable is/);
    expect(f.state).toMatch(/snap\/[0-9a-f-]+\.snap: kept first \d+ of \d+ unsynced pieces/);
  });
});
