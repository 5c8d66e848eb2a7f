import { parseArgs } from 'node:util';

/** Sends one request to the first endpoint that answers (connection errors and 503 try the next one). */
export async function request(
  endpoints: string[],
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  let last: unknown;
  for (const ep of endpoints) {
    try {
      const res = await fetch(new URL(path, ep), {
        method,
        ...(body !== undefined
          ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
          : {}),
      });
      const text = await res.text();
      const json: unknown =
        text.length > 0 && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
      if (res.status === 503) {
        last = json;
        continue;
      }
      return { status: res.status, json };
    } catch (err) {
      last = err;
    }
  }
  throw new Error(
    `no endpoint answered (${endpoints.join(', ')}): ${String(last instanceof Error ? last.message : JSON.stringify(last))}`,
  );
}

/** `x-kv put|get|del|cas|members|status|snapshot ...` against `--endpoints`. */
export async function runClient(cmd: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      endpoints: { type: 'string', default: process.env.X_KV_ENDPOINTS ?? 'http://127.0.0.1:12391' },
      serializable: { type: 'boolean', default: false },
      'prev-value': { type: 'string' },
      'prev-revision': { type: 'string' },
      learner: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const eps = values.endpoints.split(',').map((e) => (e.startsWith('http') ? e : `http://${e}`));
  const key = (i: number): string => {
    const k = positionals[i];
    if (k === undefined) throw new Error(`missing argument ${i + 1} for ${cmd}`);
    return k;
  };
  let r: { status: number; json: unknown };
  switch (cmd) {
    case 'put':
      r = await request(eps, 'PUT', `/kv/${encodeURIComponent(key(0))}`, { value: key(1) });
      break;
    case 'get':
      r = await request(
        eps,
        'GET',
        `/kv/${encodeURIComponent(key(0))}${values.serializable ? '?consistency=serializable' : ''}`,
      );
      break;
    case 'del':
      r = await request(eps, 'DELETE', `/kv/${encodeURIComponent(key(0))}`);
      break;
    case 'cas': {
      const body: Record<string, unknown> = { value: key(1) };
      if (values['prev-value'] !== undefined) body.prevValue = values['prev-value'];
      if (values['prev-revision'] !== undefined) body.prevRevision = Number(values['prev-revision']);
      if (body.prevValue === undefined && body.prevRevision === undefined)
        throw new Error('cas needs --prev-value or --prev-revision');
      r = await request(eps, 'PUT', `/kv/${encodeURIComponent(key(0))}`, body);
      break;
    }
    case 'members': {
      const sub = positionals[0] ?? 'list';
      if (sub === 'list') r = await request(eps, 'GET', '/members');
      else if (sub === 'add')
        r = await request(eps, 'POST', '/members', {
          id: Number(key(1)),
          peer: key(2),
          client: key(3),
          learner: values.learner,
        });
      else if (sub === 'remove') r = await request(eps, 'DELETE', `/members/${Number(key(1))}`);
      else throw new Error(`unknown members subcommand ${sub}`);
      break;
    }
    case 'status':
      r = await request(eps, 'GET', '/status');
      break;
    case 'snapshot':
      r = await request(eps, 'POST', '/snapshot');
      break;
    default:
      throw new Error(`unknown command ${cmd}`);
  }
  process.stdout.write(`${JSON.stringify(r.json, null, 2)}\n`);
  return r.status >= 200 && r.status < 300 ? 0 : 1;
}
