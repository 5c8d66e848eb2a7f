/**
 * The logging hook: pino-compatible in shape (`logger.info(msg, fields)` style calls map onto pino's
 * `child`-less methods through a tiny adapter), and cheap when silent. Raft logs state transitions at info, message
 * traffic at debug, and anomalies at warn.
 *
 * @example
 * ```ts
 * const logger: Logger = {
 *   debug: () => {}, info: (m, f) => console.log(m, f), warn: (m, f) => console.warn(m, f), error: (m, f) => console.error(m, f),
 * };
 * ```
 */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => undefined;

/** A logger that discards everything (the default). */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
