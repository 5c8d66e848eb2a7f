// A small script runner for Changer tables, in the notation of etcd's confchange/testdata: each step is a
// command ('simple', 'enter-joint', 'enter-joint autoleave', 'leave-joint') with changes written 'v1' (make 1 a
// voter), 'l2' (make 2 a learner), 'r3' (remove 3), 'u4' (update 4). The expected outcome is the resulting
// config and progress map, or the refusal's message. The changer's lastIndex starts at 0 and grows by one per
// step, so a peer's `next` tells in which step its progress was created.
import { expect } from 'vitest';
import { Changer } from '../../src/confchange/index.js';
import type { ConfChangeSingle, ConfChangeType } from '../../src/raftpb/types.js';
import { ProgressTracker, formatProgressMap, formatTrackerConfig } from '../../src/tracker/index.js';

/** [command, changes, expected output lines] */
export type Step = [cmd: string, changes: string, want: string[]];

const typeOf: Record<string, ConfChangeType> = { v: 0, r: 1, u: 2, l: 3 };

/** Parses 'v1 l2 r3' into ConfChangeSingles. */
export function changes(s: string): ConfChangeSingle[] {
  return s
    .trim()
    .split(/\s+/)
    .filter((t) => t !== '')
    .map((t) => {
      const type = typeOf[t[0] ?? ''];
      if (type === undefined || !/^\d+$/.test(t.slice(1))) throw new Error(`bad change token ${t}`);
      return { type, nodeId: Number(t.slice(1)) };
    });
}

/** The config and progress map as text, as the tables write it. */
export function describeTracker(t: Pick<ProgressTracker, 'config' | 'progress'>): string[] {
  return [
    formatTrackerConfig(t.config),
    ...formatProgressMap(t.progress).trimEnd().split('\n').filter(Boolean),
  ];
}

/** Runs `steps` against a fresh tracker, asserting each step's outcome. */
export function runScript(steps: Step[]): void {
  const tracker = new ProgressTracker(10, 0);
  let lastIndex = 0;
  steps.forEach(([cmd, input, want], i) => {
    const chg = new Changer(tracker, lastIndex++);
    const ccs = changes(input);
    const before = describeTracker(tracker);
    let got: string[];
    try {
      let res;
      if (cmd === 'simple') res = chg.simple(...ccs);
      else if (cmd === 'enter-joint') res = chg.enterJoint(false, ...ccs);
      else if (cmd === 'enter-joint autoleave') res = chg.enterJoint(true, ...ccs);
      else if (cmd === 'leave-joint') res = chg.leaveJoint();
      else throw new Error(`unknown command ${cmd}`);
      [tracker.config, tracker.progress] = res;
      got = describeTracker(tracker);
    } catch (e) {
      expect((e as { code?: unknown }).code, `step ${i} (${cmd} ${input}) threw ${String(e)}`).toBe(
        'ERR_CONF_CHANGE_INVALID',
      );
      got = [(e as Error).message];
      // A refused change leaves the tracker as it was.
      expect(describeTracker(tracker)).toEqual(before);
    }
    expect(got, `step ${i}: ${cmd} ${input}`).toEqual(want);
  });
}
