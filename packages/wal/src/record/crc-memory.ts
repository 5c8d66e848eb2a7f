import { crc32cRange, NATIVE_MIN_BYTES, nativeCrcLoaded, SLICE8_TABLES } from './crc.js';
import { CRC32C_WASM_BASE64 } from './crc32c-wasm-bytes.js';

// A growable byte buffer that lives in a WebAssembly memory, so that the CRC-32C of a range of it runs in place:
// one cheap call into crc32c.wat's slice-by-8 loop, no view to make and no copy. For the short records that
// dominate a log (100 B entries) that is about half the cost of the JS loop, which is what the record framing
// spends most of its time in. Long ranges still go to the native CRC when it loaded (it is faster once its
// per-call cost is repaid).

/** Where the data starts in the module's memory: the eight tables come first. */
const DATA_OFFSET = SLICE8_TABLES.byteLength;
const PAGE_BYTES = 65536;

// The few WebAssembly shapes used here (this project's type libraries, ES2022 and @types/node 20, leave the
// global out).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface CrcExports {
  memory: WasmMemory;
  crc(prev: number, at: number, n: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/**
 * The compiled module, or undefined where WebAssembly is unavailable (`--jitless`), turned off for tests, or
 * fails its self-check (the CRC of "123456789", chained, must be 0xe3069283).
 */
const compiled: object | undefined = compile();

function compile(): object | undefined {
  if (process.env.X_WAL_NO_WASM_CRC === '1' || wasm === undefined) return undefined;
  try {
    const mod = new wasm.Module(Buffer.from(CRC32C_WASM_BASE64, 'base64'));
    const check = instantiate(mod);
    new Uint8Array(check.memory.buffer, DATA_OFFSET, 9).set(new TextEncoder().encode('123456789'));
    const crc = check.crc(check.crc(0, DATA_OFFSET, 4), DATA_OFFSET + 4, 5) >>> 0;
    return crc === 0xe3069283 ? mod : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A new instance of `mod` with its tables written, little-endian whatever the host's byte order (as WebAssembly
 * reads memory).
 */
function instantiate(mod: object): CrcExports {
  const exports = new (wasm as WasmApi).Instance(mod).exports as CrcExports;
  const tables = new DataView(exports.memory.buffer, 0, DATA_OFFSET);
  SLICE8_TABLES.forEach((v, i) => tables.setInt32(i * 4, v, true));
  return exports;
}

/** Whether {@link CrcMemory.create} makes buffers. */
export const crcMemoryAvailable = compiled !== undefined;

/**
 * A byte buffer of at least `capacity` bytes in its own WebAssembly memory, with an in-place CRC-32C.
 * {@link bytes} is replaced (and the old view detached) by {@link grow}; the contents carry over.
 */
export class CrcMemory {
  private readonly exports: CrcExports;
  /** The buffer: a view of the memory from {@link DATA_OFFSET}, `capacity` bytes long. */
  bytes: Uint8Array;

  private constructor(exports: CrcExports) {
    this.exports = exports;
    this.bytes = new Uint8Array(0);
  }

  /**
   * A buffer of `capacity` bytes, or undefined where WebAssembly cannot be used, or when no instance can be made
   * (V8 reserves address space for every live WebAssembly memory and refuses new ones after some thousands).
   */
  static create(capacity: number): CrcMemory | undefined {
    if (compiled === undefined) return undefined;
    try {
      const m = new CrcMemory(instantiate(compiled));
      return m.grow(capacity) ? m : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Makes {@link bytes} at least `capacity` bytes long, keeping its contents; false (and nothing changed) when the
   * memory cannot grow that far (past 4 GiB, or out of memory): the caller moves to an ordinary array then.
   */
  grow(capacity: number): boolean {
    if (capacity <= this.bytes.byteLength) return true;
    const memory = this.exports.memory;
    const pages = Math.ceil((DATA_OFFSET + capacity) / PAGE_BYTES) - memory.buffer.byteLength / PAGE_BYTES;
    try {
      if (pages > 0) memory.grow(pages);
    } catch {
      return false;
    }
    this.bytes = new Uint8Array(memory.buffer, DATA_OFFSET, capacity);
    return true;
  }

  /** The CRC-32C of `bytes[start, end)` chained from `prev` (as {@link crc32cRange}). */
  crc(prev: number, start: number, end: number): number {
    if (nativeCrcLoaded && end - start >= NATIVE_MIN_BYTES) return crc32cRange(prev, this.bytes, start, end);
    return this.exports.crc(prev, DATA_OFFSET + start, end - start) >>> 0;
  }
}
