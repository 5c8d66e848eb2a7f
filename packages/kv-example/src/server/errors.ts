import type http from 'node:http';

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
 * Maps raft's typed errors to HTTP: no leader / proposal dropped → 503; timeout or leadership lost, whose outcome
 * is unknown → 504; a stopped node → 503; anything else → 500.
 */
export function errorFromRaft(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
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
    default:
      return new ApiError(500, 'INTERNAL', message);
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  // The flat-array form of headers skips node's per-response header object walk.
  res.writeHead(status, [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(text)),
  ]);
  res.end(text);
}

export function sendError(res: http.ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, { error: { code: err.code, message: err.message } });
}
