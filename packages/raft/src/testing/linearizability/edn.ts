/** EDN values as read by {@link parseEdn}: keywords become `{ kw: name }`. */
export type Edn = null | boolean | number | string | { kw: string } | Edn[] | Map<string, Edn>;

/** Thrown when the text ends inside a value. */
class EdnEnd extends Error {}

/**
 * A small EDN reader for Jepsen/Knossos histories: vectors, lists, maps (keys as their printed form, e.g. ":f"),
 * keywords, strings, integers, floats, nil, booleans, `;` comments and commas. Throws on anything else. A history
 * cut off mid-way (as some published ones are) yields the complete elements of its top-level collection.
 */
export function parseEdn(text: string): Edn[] {
  let i = 0;
  const out: Edn[] = [];
  const ws = (): void => {
    while (i < text.length) {
      const c = text[i]!;
      if (c === ';') while (i < text.length && text[i] !== '\n') i++;
      else if (c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === ',') i++;
      else break;
    }
  };
  const key = (v: Edn): string =>
    v !== null && typeof v === 'object' && 'kw' in v ? `:${v.kw}` : JSON.stringify(v);
  const value = (): Edn => {
    ws();
    const c = text[i];
    if (c === undefined) throw new EdnEnd('unexpected end of EDN');
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const arr: Edn[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return arr;
        }
        arr.push(value());
      }
    }
    if (c === '{') {
      i++;
      const m = new Map<string, Edn>();
      for (;;) {
        ws();
        if (text[i] === '}') {
          i++;
          return m;
        }
        const k = value();
        m.set(key(k), value());
      }
    }
    if (c === '"') {
      let s = '';
      i++;
      while (text[i] !== '"') {
        if (i >= text.length) throw new EdnEnd('unterminated string in EDN');
        if (text[i] === '\\') {
          i++;
          const e = text[i];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : (e ?? '');
        } else s += text[i];
        i++;
      }
      i++;
      return s;
    }
    const start = i;
    while (i < text.length && !' \n\t\r,[](){}"'.includes(text[i]!)) i++;
    const tok = text.slice(start, i);
    if (tok.startsWith(':')) return { kw: tok.slice(1) };
    if (tok === 'nil') return null;
    if (tok === 'true' || tok === 'false') return tok === 'true';
    if (/^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?N?M?$/.test(tok)) return Number(tok.replace(/[NM]$/, ''));
    throw new Error(`unsupported EDN token ${JSON.stringify(tok)} at ${start}`);
  };
  let partial: Edn[] | undefined;
  const topLevel = (): Edn => {
    ws();
    if (text[i] !== '[') return value();
    // Keep the complete elements of a top-level vector even if the text stops inside it.
    i++;
    partial = [];
    for (;;) {
      ws();
      if (text[i] === ']') {
        i++;
        const done = partial;
        partial = undefined;
        return done;
      }
      partial.push(value());
    }
  };
  try {
    for (;;) {
      ws();
      if (i >= text.length) return out;
      out.push(topLevel());
    }
  } catch (err) {
    if (err instanceof EdnEnd && partial !== undefined) {
      out.push(partial);
      return out;
    }
    throw err;
  }
}

/** The name of a keyword value, or undefined. */
export function kw(v: Edn | undefined): string | undefined {
  return v !== null && v !== undefined && typeof v === 'object' && 'kw' in v ? v.kw : undefined;
}
