import { describe, expect, it } from 'vitest';
import { RaftError, type RaftErrorCode } from '@x/raft';
import { errorFromRaft } from '../../src/server/errors.js';

const status = (code: RaftErrorCode): { status: number; code: string } => {
  const e = errorFromRaft(new RaftError(code, 'x'));
  return { status: e.status, code: e.code };
};

describe('errorFromRaft', () => {
  it('answers 503 for refusals that wrote nothing (retryable), 504 for unknown outcomes', () => {
    expect(status('ERR_NO_LEADER')).toEqual({ status: 503, code: 'NO_LEADER' });
    expect(status('ERR_PROPOSAL_DROPPED')).toEqual({ status: 503, code: 'NO_LEADER' });
    expect(status('ERR_APPLY_BACKLOG')).toEqual({ status: 503, code: 'BUSY' });
    expect(status('ERR_TIMEOUT')).toEqual({ status: 504, code: 'TIMEOUT' });
    expect(status('ERR_LEADERSHIP_LOST')).toEqual({ status: 504, code: 'LEADERSHIP_LOST' });
    expect(status('ERR_STOPPED')).toEqual({ status: 503, code: 'STOPPED' });
    expect(status('ERR_LOG_CORRUPT')).toEqual({ status: 500, code: 'INTERNAL' });
  });
});
