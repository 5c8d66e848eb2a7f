// The chaos clients and the history they record: reads (linearizable), writes and compare-and-swaps on a few keys
// over the HTTP API, with invoke and completion times. A read that did not complete has no effect (dropped); a write
// or CAS that timed out or lost its connection has an unknown outcome; a 503 NO_LEADER is a definite failure.
import { casRegisterModel, checkLinearizable, historyFromEvents, partitionBy } from '@x/raft/testing';
import { call, sleep } from './cluster.mjs';

export const KEYS = ['a', 'b', 'c'];

export class Workload {
  constructor(cluster, rng, now) {
    this.cluster = cluster;
    this.rng = rng;
    this.now = now;
    this.events = [];
    this.stopped = false;
    this.acknowledgedWrites = 0;
    this.running = [];
  }

  pick(xs) {
    return xs[this.rng.nextInt(xs.length)];
  }

  start(clients) {
    this.running = Array.from({ length: clients }, (_, c) => this.client(c));
  }

  async stop() {
    this.stopped = true;
    await Promise.all(this.running);
  }

  async client(c) {
    let k = 0;
    while (!this.stopped) {
      const members = this.cluster.members();
      const node = this.cluster.nodes.get(this.pick(members));
      const key = this.pick(KEYS);
      const kind = this.rng.nextInt(10);
      if (kind < 4) await this.read(c, node, key);
      else await this.write(c, node, key, `${c}-${k++}`, kind >= 8);
    }
  }

  async read(c, node, key) {
    this.events.push({ process: c, type: 'invoke', input: { key, op: { op: 'read' } }, time: this.now() });
    try {
      const r = await call(node.client, 'GET', `/kv/${key}`);
      if (r.status === 200 || r.status === 404)
        this.events.push({
          process: c,
          type: 'ok',
          output: r.status === 200 ? r.json.value : null,
          time: this.now(),
        });
      else this.events.push({ process: c, type: 'fail', time: this.now() });
    } catch {
      this.events.push({ process: c, type: 'fail', time: this.now() });
      await sleep(20); // a node that is down or paused: do not spin on it
    }
  }

  async write(c, node, key, value, cas) {
    const prevValue = cas
      ? this.pick([null, ...KEYS.map((_, i) => `${this.rng.nextInt(6)}-${i}`)])
      : undefined;
    const op = cas ? { op: 'cas', from: prevValue, to: value } : { op: 'write', value };
    this.events.push({ process: c, type: 'invoke', input: { key, op }, time: this.now() });
    try {
      const body = cas ? (prevValue === null ? { value, prevRevision: 0 } : { value, prevValue }) : { value };
      const r = await call(node.client, 'PUT', `/kv/${key}`, body);
      if (r.status === 200) {
        this.acknowledgedWrites++;
        this.events.push({ process: c, type: 'ok', output: cas ? true : null, time: this.now() });
      } else if (r.status === 409)
        this.events.push({ process: c, type: 'ok', output: false, time: this.now() });
      else if (r.status === 503 && r.json.error?.code === 'NO_LEADER')
        this.events.push({ process: c, type: 'fail', time: this.now() });
      else this.events.push({ process: c, type: 'info', time: this.now() }); // 504, stopped: outcome unknown
    } catch (err) {
      // A refused connection never reached a server: a definite failure. Anything else may have been applied.
      const refused = err?.cause?.code === 'ECONNREFUSED';
      this.events.push({ process: c, type: refused ? 'fail' : 'info', time: this.now() });
      if (refused) await sleep(20);
    }
  }

  /** Final linearizable reads of every key through `node` (process 100), appended to the history. */
  async finalReads(node) {
    for (const key of KEYS) {
      this.events.push({
        process: 100,
        type: 'invoke',
        input: { key, op: { op: 'read' } },
        time: this.now(),
      });
      const r = await call(node.client, 'GET', `/kv/${key}`, undefined, 5000).catch(() => ({ status: 0 }));
      this.events.push({
        process: 100,
        type: r.status === 200 || r.status === 404 ? 'ok' : 'fail',
        output: r.status === 200 ? r.json.value : null,
        time: this.now(),
      });
    }
  }

  /** Checks the history against a compare-and-swap register per key. */
  check() {
    const ops = historyFromEvents(this.events, { dropUnknown: (i) => i.op.op === 'read' });
    const base = casRegisterModel(null);
    const model = {
      init: base.init,
      step: (s, input, output) => base.step(s, input.op, output),
      hash: (s) => JSON.stringify(s),
      partition: (o) => partitionBy(o, (x) => x.input.key),
      describe: (input, output) => `${input.key}: ${base.describe(input.op, output)}`,
    };
    return { ops: ops.length, result: checkLinearizable(model, ops) };
  }
}
