/** Every error code a {@link WalError} can carry. */
export const WalErrorCode = {
  /** Two Metadata records of the WAL differ. */
  MetadataConflict: 'ERR_WAL_METADATA_CONFLICT',
  /** No segment file where one is needed (empty directory, or none at or below the snapshot's index). */
  FileNotFound: 'ERR_WAL_FILE_NOT_FOUND',
  /** A record's CRC does not chain, or a record is malformed and not a torn write: corruption. */
  CrcMismatch: 'ERR_WAL_CRC_MISMATCH',
  /** A snapshot record has the requested snapshot's index but another term. */
  SnapshotMismatch: 'ERR_WAL_SNAPSHOT_MISMATCH',
  /** No snapshot record matches the snapshot the WAL was opened at. */
  SnapshotNotFound: 'ERR_WAL_SNAPSHOT_NOT_FOUND',
  /** A torn tail in the last segment (a crash mid-write): `Wal.repair` can cut it. */
  UnexpectedEof: 'ERR_WAL_UNEXPECTED_EOF',
  /** Another live process (or this one) holds the directory's write lock. */
  Locked: 'ERR_WAL_LOCKED',
  /** `create` found a WAL already there. */
  Exists: 'ERR_WAL_EXISTS',
  /** The WAL was closed. */
  Closed: 'ERR_WAL_CLOSED',
  /** An earlier write, fsync or cut failed; the WAL accepts nothing more (fsync is never retried). */
  Failed: 'ERR_WAL_FAILED',
  /** A caller passed a value the WAL cannot use. */
  InvalidArgument: 'ERR_WAL_INVALID_ARGUMENT',
  /** A codec threw while encoding or decoding, or a record has an unknown type. */
  Codec: 'ERR_WAL_CODEC',
  /** Segment sequence numbers are not consecutive (a segment is missing). */
  SequenceGap: 'ERR_WAL_SEQUENCE_GAP',
  /** An entry's index skips ahead of the log's last index + 1: on read, a gap in the file; on save, refused. */
  IndexGap: 'ERR_WAL_INDEX_GAP',
} as const;

/** One of the `ERR_WAL_*` codes. */
export type WalErrorCode = (typeof WalErrorCode)[keyof typeof WalErrorCode];

/** Where an error was found, and what caused it. */
export interface WalErrorDetails {
  /** The segment (or other) file the error concerns. */
  file?: string;
  /** Byte offset in `file` of the record (frame start) the error concerns. */
  offset?: number;
  /** The underlying error, e.g. the failed fsync's. */
  cause?: unknown;
}

/**
 * The one error class of `@x/wal`; `code` says what went wrong, `file` and `offset` where.
 *
 * @example
 * ```ts
 * try {
 *   wal = await Wal.open(dir, snap);
 * } catch (err) {
 *   if (err instanceof WalError && err.code === 'ERR_WAL_UNEXPECTED_EOF' && (await Wal.repair(dir))) {
 *     wal = await Wal.open(dir, snap);
 *   } else throw err;
 * }
 * ```
 */
export class WalError extends Error {
  override readonly name = 'WalError';
  readonly code: WalErrorCode;
  readonly file: string | undefined;
  readonly offset: number | undefined;
  /** The message without the code and the location. */
  readonly reason: string;

  constructor(code: WalErrorCode, message: string, details: WalErrorDetails = {}) {
    const where =
      details.file !== undefined
        ? ` (${details.file}${details.offset !== undefined ? ` at byte offset ${details.offset}` : ''})`
        : '';
    super(`${code}: ${message}${where}`, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.code = code;
    this.reason = message;
    this.file = details.file;
    this.offset = details.offset;
  }
}

/** Whether `err` is a {@link WalError} with the given code. */
export function isWalError(err: unknown, code?: WalErrorCode): err is WalError {
  return err instanceof WalError && (code === undefined || err.code === code);
}
