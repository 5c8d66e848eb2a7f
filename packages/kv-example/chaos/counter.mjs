// The counter workload: clients increment a few counters (POST /kv/:key) in client sessions, retrying every
// increment whose outcome is unknown (a timeout, a dropped connection, 504, no leader) with the same session and
// sequence number, on any member. The check is exact: each counter ends at least at the number of increments
// acknowledged (on the first try or a retry) and at most that plus the increments abandoned with an unknown
// outcome. A retried increment that counted twice breaks the upper bound.
// With `dedup: false` the retries go without the session headers: the same workload then shows what sessions
// prevent (the check fails once a retried increment was applied twice).
import { call, sleep } from './cluster.mjs';

export const COUNTER_KEYS = ['n0', 'n1'];
/** Attempts per increment before it is abandoned (its outcome unknown if any attempt's was). */
const MAX_TRIES = 12;

/**
 * Exact bounds on each counter: `acked[k] <= final[k] <= acked[k] + abandoned[k]`.
 * @param {Record<string, number>} acked @param {Record<string, number>} abandoned
 * @param {Record<string, number | undefined>} final the counters read at the end (undefined: could not be read)
 * @returns {string[]} one line per violated bound
 */
export function checkCounters(acked, abandoned, final) {
  const failures = [];
  for (const key of Object.keys(acked)) {
    const v = final[key];
    const lo = acked[key] ?? 0;
    const hi = lo + (abandoned[key] ?? 0);
    if (v === undefined) failures.push(`counter ${key}: could not be read at the end`);
    else if (v < lo) failures.push(`counter ${key} = ${v} < ${lo} acknowledged increments (one was lost)`);
    else if (v > hi)
      failures.push(
        `counter ${key} = ${v} > ${lo} acknowledged + ${abandoned[key] ?? 0} unknown = ${hi} (an increment counted twice)`,
      );
  }
  return failures;
}

export class CounterWorkload {
  /**
   * @param {import('./cluster.mjs').ChaosCluster} cluster
   * @param {{ nextInt(n: number): number }} rng
   * @param {{ dedup: boolean }} options
   */
  constructor(cluster, rng, { dedup }) {
    this.cluster = cluster;
    this.rng = rng;
    this.dedup = dedup;
    this.stopped = false;
    /** @type {Promise<void>[]} */
    this.running = [];
    /** @type {Record<string, number>} */
    this.acked = Object.fromEntries(COUNTER_KEYS.map((k) => [k, 0]));
    /** @type {Record<string, number>} */
    this.abandoned = Object.fromEntries(COUNTER_KEYS.map((k) => [k, 0]));
    /** Acknowledged after at least one attempt with an unknown outcome: the increments at risk of counting twice. */
    this.ackedAfterUnknown = 0;
    this.attempts = 0;
    this.sessionsOpened = 0;
    this.sessionsExpired = 0;
  }

  /** @param {number} clients */
  start(clients) {
    this.running = Array.from({ length: clients }, () => this.client());
  }

  async stop() {
    this.stopped = true;
    await Promise.all(this.running);
  }

  /** A member's client port, picked at random. */
  port() {
    const members = this.cluster.members();
    return this.cluster.nodes.get(members[this.rng.nextInt(members.length)]).client;
  }

  /** Opens a session on some member; retries until one answers (a register whose outcome is unknown is just redone). */
  async open() {
    while (!this.stopped) {
      const r = await call(this.port(), 'POST', '/sessions', {}).catch(() => undefined);
      if (r?.status === 200) {
        this.sessionsOpened++;
        return r.json.sessionId;
      }
      await sleep(50);
    }
    return undefined;
  }

  async client() {
    let session = this.dedup ? await this.open() : undefined;
    let seq = 0;
    while (!this.stopped && (session !== undefined || !this.dedup)) {
      const key = COUNTER_KEYS[this.rng.nextInt(COUNTER_KEYS.length)];
      seq++;
      /** @type {Record<string, string>} */
      const headers = this.dedup ? { 'x-client-id': String(session), 'x-client-seq': String(seq) } : {};
      let unknown = false;
      let done = false;
      // Every attempt is made, even once the run is stopping: an increment in flight must end acked or abandoned.
      for (let attempt = 0; attempt < MAX_TRIES && !done; attempt++) {
        this.attempts++;
        const r = await call(this.port(), 'POST', `/kv/${key}`, { delta: 1 }, 1500, headers).catch((err) => ({
          status: err?.cause?.code === 'ECONNREFUSED' ? -1 : 0,
          json: {},
        }));
        if (r.status === 200) {
          this.acked[key]++;
          if (unknown) this.ackedAfterUnknown++;
          done = true;
        } else if (r.status === 410) {
          // The session is gone: this increment was not applied now, but an earlier attempt may have been.
          this.sessionsExpired++;
          if (unknown) this.abandoned[key]++;
          done = true;
          session = await this.open();
          seq = 0;
        } else {
          // -1 (connection refused) and 503 NO_LEADER: nothing was written by this attempt. Anything else
          // (a timeout, a reset, 504, 503 STOPPED mid-write) may have been.
          const definite = r.status === -1 || (r.status === 503 && r.json?.error?.code === 'NO_LEADER');
          if (!definite) unknown = true;
          await sleep(definite ? 50 : 100);
        }
      }
      if (!done && unknown) this.abandoned[key]++;
    }
  }

  /**
   * Reads each counter through a linearizable GET (on any member, a few rounds: a read that fails is retried, it
   * changes nothing), then checks the bounds.
   */
  async check() {
    /** @type {Record<string, number | undefined>} */
    const final = {};
    for (const key of COUNTER_KEYS) {
      for (let round = 0; round < 10 && final[key] === undefined; round++) {
        for (const id of this.cluster.up()) {
          const r = await call(this.cluster.nodes.get(id).client, 'GET', `/kv/${key}`, undefined, 5000).catch(
            () => undefined,
          );
          final[key] = r?.status === 200 ? Number(r.json.value) : r?.status === 404 ? 0 : undefined;
          if (final[key] !== undefined) break;
        }
        if (final[key] === undefined) await sleep(300);
      }
    }
    return { final, failures: checkCounters(this.acked, this.abandoned, final) };
  }

  /** @param {Record<string, number | undefined>} final */
  summary(final) {
    const keys = COUNTER_KEYS.map(
      (k) => `${k}=${final[k]} (acked ${this.acked[k]}, unknown ${this.abandoned[k]})`,
    ).join(', ');
    return (
      `counters${this.dedup ? '' : ' WITHOUT sessions'}: ${keys}; ${this.attempts} attempts, ` +
      `${this.ackedAfterUnknown} acked after an unknown outcome, ${this.sessionsOpened} sessions, ` +
      `${this.sessionsExpired} expired`
    );
  }
}
