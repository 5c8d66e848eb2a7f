import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { installFileIo, realFileIo, type FileIo } from '../../src/fs/file-io.js';
import { RecordingFileIo } from './recorder.js';
import { crashStates, type CrashState, type ModelOptions, type StateStats } from './states.js';
import { captureTree, loadRecording, saveRecording, type Recording, type TraceEvent } from './trace.js';

/**
 * A workload to explore: it runs against a root directory while every file operation is recorded, and calls
 * `ack` whenever a promise the checker will hold it to resolved. The checker is then run on every crash state.
 */
export interface Workload {
  name: string;
  /** Prepares `root` before recording (taken as durable); returns acknowledgements that hold from the start. */
  setup?(root: string): Promise<unknown[]>;
  run(root: string, ack: (value: unknown) => void): Promise<void>;
  /** Recovers from the crash state in `root` and throws when it is wrong; `acks` is what was acknowledged. */
  check(root: string, acks: unknown[]): Promise<void>;
}

export interface ExploreOptions extends ModelOptions {
  /** Stop checking after this many failing states. */
  maxFailures: number;
  /** Wraps the recorder: a deliberately broken file-io layer (calls it drops are never recorded). */
  breakIo?: ((recorder: FileIo) => FileIo) | undefined;
  /**
   * The file-io seam of the `@x/wal` build the workload runs: by default this source tree's. A package that runs
   * `@x/wal` from its `dist` (the kv example) passes that build's `installFileIo` and `realFileIo`.
   */
  seam?: { install: (impl: FileIo) => () => void; real: FileIo } | undefined;
  /** Save the trace of a failing exploration (default true; false where failures are planted). */
  saveTrace?: boolean;
  /** Explore this recording instead of running the workload (`WAL_CRASH_TRACE`). */
  recording?: Recording | undefined;
}

export interface CrashFailure {
  position: number;
  /** The trace event the crash came after. */
  after: string;
  error: string;
  state: string;
  files: string;
}

export interface Exploration {
  workload: string;
  seed: number;
  events: number;
  /** Crash states generated, and how many distinct ones were checked. */
  generated: number;
  /** Crash points whose states were all generated, and those sampled (seeded). */
  exhaustivePoints: number;
  sampledPoints: number;
  checked: number;
  failures: CrashFailure[];
  recordMs: number;
  exploreMs: number;
  /** Where the trace was saved when something failed (rerun it with WAL_CRASH_TRACE). */
  traceFile: string | undefined;
  /** What was explored. */
  recording: Recording;
}

/** Where crash states are written: tmpfs when there is one (fsync is free there; the checks sync a lot). */
function stateParent(): string {
  return process.env.WAL_CRASH_TMP ?? (process.platform === 'linux' ? '/dev/shm' : tmpdir());
}

/** Records `w`, generates its crash states and checks each distinct one. */
export async function explore(w: Workload, o: ExploreOptions): Promise<Exploration> {
  const base = await mkdtemp(join(stateParent(), `x-wal-crash-${w.name}-`)).catch(() =>
    mkdtemp(join(tmpdir(), `x-wal-crash-${w.name}-`)),
  );
  try {
    const t0 = performance.now();
    const seam = o.seam ?? { install: installFileIo, real: realFileIo };
    const recording = o.recording ?? (await record(w, join(base, 'recorded'), seam, o.breakIo));
    if (process.env.WAL_CRASH_PRINT === '1') {
      console.log(`${w.name} trace:\n${recording.trace.map((e, i) => describeEvent(e, i)).join('\n')}`);
    }
    const t1 = performance.now();
    // Equal states are checked once, with the most acknowledgements any crash point leaving them had (the checks
    // only get stricter with more acknowledgements, and crash points come in trace order).
    const distinct = new Map<string, CrashState>();
    let generated = 0;
    const stats: StateStats = { exhaustivePoints: 0, sampledPoints: 0 };
    for (const s of crashStates(recording, o, stats)) {
      generated++;
      distinct.set(s.key, s);
    }
    const failures: CrashFailure[] = [];
    let checked = 0;
    for (const s of distinct.values()) {
      if (failures.length >= o.maxFailures) break;
      checked++;
      const root = join(base, `state-${checked}`);
      await materialize(root, s.files);
      try {
        await withWatchdog(w.check(root, s.marks));
      } catch (err) {
        failures.push({
          position: s.position,
          after:
            s.position === 0
              ? '(start)'
              : describeEvent(recording.trace[s.position - 1] as TraceEvent, s.position - 1),
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
          state: s.describe(),
          files: [...s.files]
            .map(([p, d]) => `  ${p}${d === null ? '/' : ` (${d.byteLength} bytes)`}`)
            .join('\n'),
        });
      }
      await rm(root, { recursive: true, force: true });
    }
    let traceFile: string | undefined;
    if (failures.length > 0 && o.recording === undefined && o.saveTrace !== false) {
      traceFile = join(tmpdir(), `x-wal-crash-trace-${w.name}-${o.seed}.json`);
      await saveRecording(traceFile, recording);
    }
    return {
      workload: w.name,
      seed: o.seed,
      events: recording.trace.length,
      generated,
      ...stats,
      checked,
      failures,
      recordMs: t1 - t0,
      exploreMs: performance.now() - t1,
      traceFile,
      recording,
    };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

async function record(
  w: Workload,
  root: string,
  seam: { install: (impl: FileIo) => () => void; real: FileIo },
  breakIo: ((io: FileIo) => FileIo) | undefined,
): Promise<Recording> {
  await mkdir(root, { recursive: true });
  const initialAcks = (await w.setup?.(root)) ?? [];
  const recorder = new RecordingFileIo(root, await captureTree(root), seam.real);
  // What setup acknowledged holds at every crash point: marks ahead of the first operation.
  for (const a of initialAcks) recorder.mark(a);
  const restore = seam.install(breakIo === undefined ? recorder : breakIo(recorder));
  try {
    await w.run(root, (v) => recorder.mark(v));
  } finally {
    restore();
  }
  return recorder.recording();
}

/**
 * A check that has not settled after this long is reported as a hang, with its crash state (a check takes
 * milliseconds; without this, a hang would only show as the test's timeout, without the state).
 */
const HANG_MS = 20_000;

async function withWatchdog(check: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`recovery did not finish within ${HANG_MS} ms (a hang)`)),
      HANG_MS,
    );
  });
  try {
    await Promise.race([check, hang]);
  } finally {
    clearTimeout(timer);
  }
}

async function materialize(root: string, files: Map<string, Uint8Array | null>): Promise<void> {
  await mkdir(root, { recursive: true });
  for (const [path, data] of files) {
    if (data === null) await mkdir(join(root, path));
    else await writeFile(join(root, path), data);
  }
}

export function describeEvent(e: TraceEvent, i: number): string {
  switch (e.op) {
    case 'mark':
      return `#${i} ack ${JSON.stringify(e.value)}`;
    case 'write':
      return `#${i} write ${e.path} [${e.offset}, ${e.offset + e.bytes.byteLength})`;
    case 'truncate':
      return `#${i} truncate ${e.path} to ${e.size}`;
    case 'sync':
      return `#${i} sync ${e.path} (covers #0..#${e.from - 1})`;
    default:
      return `#${i} ${e.op} ${e.path}`;
  }
}

/** A report of one exploration, for the test log and RELIABILITY.md. */
export function summary(x: Exploration): string {
  return (
    `${x.workload}: ${x.events} trace events, ${x.exhaustivePoints + x.sampledPoints} crash points ` +
    `(${x.sampledPoints} sampled), ${x.generated} crash states, ${x.checked} distinct checked, ` +
    `${x.failures.length} failing; record ${Math.round(x.recordMs)} ms, explore ${Math.round(x.exploreMs)} ms (seed ${x.seed})`
  );
}

/** The failures in full: trace position, the operations kept and dropped, the files. */
export function failureReport(x: Exploration): string {
  const rerun =
    x.traceFile === undefined
      ? ''
      : `\nrerun: WAL_CRASH_SEED=${x.seed} WAL_CRASH_TRACE=${x.traceFile} WAL_CRASH_WORKLOAD=${x.workload}`;
  return (
    x.failures
      .map(
        (f) =>
          `[${x.workload}] crash after ${f.after} (trace position ${f.position}):\n  ${f.error}\n` +
          `unsynced operations:\n${f.state}\nfiles:\n${f.files}`,
      )
      .join('\n\n') + rerun
  );
}

/**
 * Options from the environment: `WAL_CRASH_SEED` (the sampling seed), `WAL_CRASH_DEEP=1` (more states per crash
 * point, reordered sectors), `WAL_CRASH_TRACE` (explore a saved trace instead of recording), `WAL_CRASH_PRINT=1`
 * (print each trace).
 */
export async function optionsFromEnv(): Promise<ExploreOptions> {
  const deep = process.env.WAL_CRASH_DEEP === '1';
  const seedEnv = process.env.WAL_CRASH_SEED;
  if (seedEnv !== undefined && !/^\d+$/.test(seedEnv)) {
    throw new Error(`WAL_CRASH_SEED must be a non-negative integer, got ${JSON.stringify(seedEnv)}`);
  }
  const seed = seedEnv !== undefined ? Number(seedEnv) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  const traceFile = process.env.WAL_CRASH_TRACE;
  if (traceFile !== undefined && process.env.WAL_CRASH_WORKLOAD === undefined) {
    throw new Error(
      'WAL_CRASH_TRACE needs WAL_CRASH_WORKLOAD: a trace is checked by the workload that recorded it',
    );
  }
  return {
    sector: 512,
    maxPerPoint: deep ? 256 : 64,
    reorder: deep,
    seed,
    maxFailures: 5,
    recording: traceFile !== undefined ? await loadRecording(traceFile) : undefined,
  };
}
