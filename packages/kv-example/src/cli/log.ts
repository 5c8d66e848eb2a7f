import type { Logger } from '@x/raft';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;

/** A line-per-event logger on stdout: `level name msg {fields}`. */
export function consoleLogger(name: string, level: string): Logger {
  const min = LEVELS[level as keyof typeof LEVELS] ?? LEVELS.info;
  const at =
    (lvl: keyof typeof LEVELS) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (LEVELS[lvl] < min) return;
      const extra = fields === undefined ? '' : ` ${JSON.stringify(fields)}`;
      process.stdout.write(`${new Date().toISOString()} ${lvl.padEnd(5)} ${name} ${msg}${extra}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
