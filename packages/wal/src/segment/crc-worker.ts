import { parentPort } from 'node:worker_threads';
import { WalError } from '../errors.js';
import type { CrcCheck, CrcTask } from './crc-offload.js';
import { SegmentScanner } from './scan.js';

// The worker side of CrcOffload: checks the frames and CRC chain of each full segment it is handed (in segment
// order, whatever order they arrive in), one CrcCheck per segment; exits after the first failure.

const port = parentPort;
if (port === null) throw new Error('crc-worker runs as a worker thread');
const scanner = new SegmentScanner([]);
const waiting = new Map<number, CrcTask>();
let next = 0;
let failed = false;
port.on('message', (task: CrcTask) => {
  waiting.set(task.i, task);
  for (let t = waiting.get(next); t !== undefined && !failed; t = waiting.get(next)) {
    waiting.delete(next);
    next++;
    let result: CrcCheck;
    try {
      scanner.verifyFile(t.segment, t.bytes);
      result = { i: t.i, kind: 'ok', crc: scanner.crc };
    } catch (err) {
      failed = true;
      const e = err instanceof WalError ? err : undefined;
      result = {
        i: t.i,
        kind: 'error',
        code: e?.code ?? 'ERR_WAL_CRC_MISMATCH',
        reason: e?.reason ?? `CRC check failed: ${String(err)}`,
        file: e?.file ?? t.segment.path,
        offset: e?.offset,
      };
    }
    port.postMessage(result);
  }
  // After a failure nothing more is checked: close the port so the worker exits and the main thread, should it
  // wait for a later segment, learns that no answer is coming.
  if (failed) port.close();
});
