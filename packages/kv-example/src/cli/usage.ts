import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * A mistake in how the command was called (an unknown option, a missing argument). Only these print the usage
 * text and exit with status 2; every other failure prints its own message once and exits 1.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `node:util`'s parseArgs, with its complaints turned into {@link UsageError}s. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}
