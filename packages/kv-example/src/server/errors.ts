import type { Http1Response } from './http1.js';

/** An error the API answers with: an HTTP status and a JSON body `{ error: { code, message } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Maps raft's typed errors to HTTP: no leader / proposal dropped / apply backlog full → 503 (nothing was written);
 * timeout or leadership lost, whose outcome is unknown → 504; a stopped node → 503; an invalid membership request
 * → 400; promote on a follower or before the learner caught up → 503; anything else → 500.
 */
export function errorFromRaft(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'ERR_NO_LEADER':
      return new ApiError(503, 'NO_LEADER', `no leader: ${message}`);
    case 'ERR_APPLY_BACKLOG':
      return new ApiError(503, 'BUSY', `too many writes waiting to be applied; retry later: ${message}`);
    case 'ERR_PROPOSAL_DROPPED':
      return new ApiError(503, 'NO_LEADER', `no leader or no quorum: ${message}`);
    case 'ERR_TIMEOUT':
      return new ApiError(504, 'TIMEOUT', `${message} (the operation may or may not have taken effect)`);
    case 'ERR_LEADERSHIP_LOST':
      return new ApiError(
        504,
        'LEADERSHIP_LOST',
        `${message} (the operation may or may not have taken effect)`,
      );
    case 'ERR_STOPPED':
      return new ApiError(503, 'STOPPED', message);
    case 'ERR_CONFIG_INVALID':
      return new ApiError(400, 'BAD_REQUEST', message);
    case 'ERR_NOT_LEADER':
      return new ApiError(503, 'NOT_LEADER', message);
    case 'ERR_LEARNER_NOT_CAUGHT_UP':
      return new ApiError(503, 'LEARNER_NOT_READY', message);
    case 'ERR_LEADER_TRANSFER_TIMEOUT':
      return new ApiError(504, 'TIMEOUT', message);
    default:
      return new ApiError(500, 'INTERNAL', message);
  }
}

/** A JSON response. */
export function json(status: number, body: unknown): Http1Response {
  return { status, contentType: 'application/json', body: JSON.stringify(body) };
}

/** The JSON error response for `err`. */
export function errorResponse(err: ApiError): Http1Response {
  return json(err.status, { error: { code: err.code, message: err.message } });
}
