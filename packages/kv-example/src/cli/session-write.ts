/**
 * One HTTP request to the cluster (the client's `requestAny` with its endpoints bound). It throws when no endpoint
 * answered: `unknown(err)` tells such an error (the write may or may not have reached a node) from others.
 */
export interface Requester {
  (
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string> | undefined,
    timeoutMs: number,
  ): Promise<{ status: number; json: unknown }>;
  unknown(err: unknown): boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A write that is applied at most once however often it is retried: it opens a client session, sends the write
 * tagged `X-Client-Id: <session>`, `X-Client-Seq: 1`, and while the outcome is unknown (504, no endpoint
 * answered) sends the same tagged write again, until one answers or `timeoutMs` is over. A retry of a write that
 * was applied answers with the first attempt's result. The session is closed at the end (best effort: one left
 * open expires on its own).
 */
export async function writeWithSession(
  request: Requester,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number; json: unknown }> {
  const deadline = Date.now() + timeoutMs;
  // A register whose outcome is unknown is simply done again: a session opened but never used expires.
  const opened = await retryUnknown(request, deadline, () =>
    request('POST', '/sessions', undefined, undefined, left(deadline)),
  );
  const sessionId = (opened.json as { sessionId?: unknown } | undefined)?.sessionId;
  if (opened.status !== 200 || typeof sessionId !== 'number') return opened;
  const headers = { 'x-client-id': String(sessionId), 'x-client-seq': '1' };
  try {
    return await retryUnknown(request, deadline, () => request(method, path, body, headers, left(deadline)));
  } finally {
    await request('DELETE', `/sessions/${sessionId}`, undefined, undefined, 2_000).catch(() => undefined);
  }
}

function left(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

/** Runs `attempt` again (every 200 ms) while its outcome is unknown and time is left; the last answer or error. */
async function retryUnknown(
  request: Requester,
  deadline: number,
  attempt: () => Promise<{ status: number; json: unknown }>,
): Promise<{ status: number; json: unknown }> {
  for (;;) {
    try {
      const r = await attempt();
      if (r.status !== 504 || Date.now() + 200 >= deadline) return r;
    } catch (err) {
      if (!request.unknown(err) || Date.now() + 200 >= deadline) throw err;
    }
    await sleep(200);
  }
}
