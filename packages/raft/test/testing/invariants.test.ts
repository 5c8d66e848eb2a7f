import { describe, expect, it } from 'vitest';
import { InvariantViolation, SafetyLedger } from '@x/raft/testing';

describe('SafetyLedger', () => {
  it('catches two leaders in one term (Election Safety, §5.2) and naming the seed', () => {
    const ledger = new SafetyLedger(1, () => ['(trace)']);
    ledger.recordLeader(3, 1);
    ledger.recordLeader(3, 1); // the same leader again is fine
    expect(() => ledger.recordLeader(3, 2)).toThrow(/Election Safety violated \(seed 1\)/);
  });

  it('catches two nodes with different states after the same index (State Machine Safety, §5.4.3)', () => {
    const ledger = new SafetyLedger(9, () => ['t=1 something']);
    ledger.recordApplied(1, 5, 2, 0xabc);
    ledger.recordApplied(2, 5, 2, 0xabc);
    let caught: unknown;
    try {
      ledger.recordApplied(2, 5, 3, 0xdef);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvariantViolation);
    expect((caught as InvariantViolation).property).toBe('State Machine Safety');
    expect((caught as InvariantViolation).seed).toBe(9);
    expect(String(caught)).toMatch(/t=1 something/);
  });
});
