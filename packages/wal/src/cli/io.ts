/** Where a command writes: injected so tests can capture output. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Whether stderr is a terminal (progress is shown only then). */
  errIsTTY: boolean;
}

export const processIo: CliIo = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  errIsTTY: process.stderr.isTTY === true,
};

/** JSON with bigints as strings (etcd's 64-bit ids stay exact). */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? `<${x.byteLength} bytes>` : x,
  );
}
