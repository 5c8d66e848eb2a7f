/**
 * The record types of a WAL segment, the same numbers as etcd's `wal` package.
 *
 * @example
 * ```ts
 * for await (const rec of scanSegments(dir)) if (rec.type === RecordType.Entry) count++;
 * ```
 */
export const RecordType = {
  Metadata: 1,
  Entry: 2,
  State: 3,
  Crc: 4,
  Snapshot: 5,
} as const;

/** One of the {@link RecordType} numbers. */
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** The name of a record type number, or `unknown(n)`. */
export function recordTypeName(type: number): string {
  for (const [name, value] of Object.entries(RecordType)) if (value === type) return name;
  return `unknown(${type})`;
}
