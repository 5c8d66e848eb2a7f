// Copies of small byte ranges carved out of shared slabs: one allocation per 256 KiB instead of one per copy
// (a typed array with its own buffer costs far more to allocate than the copy of 100 bytes into it).

const SLAB_BYTES = 256 * 1024;
/** Copies larger than this get their own buffer (a slab would waste too much of itself). */
const OWN_BUFFER_FROM = 16 * 1024;

let slab = newSlab();
let slabBytes = new Uint8Array(slab);
let used = 0;

/** Zeroed memory (`data.buffer` must not expose stale heap bytes; large zeroed allocations are cheap pages). */
function newSlab(): ArrayBuffer {
  return new ArrayBuffer(SLAB_BYTES);
}

/**
 * A copy of `src[start, end)` that aliases nothing the caller may reuse: a view into a slab that is only ever
 * handed out in disjoint pieces and never written again (a full slab is dropped, not recycled), or a buffer of
 * its own for large copies. The view's `buffer` may hold other copies besides it.
 */
export function copyOut(src: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n > OWN_BUFFER_FROM) {
    // Not src.slice(): on a Buffer that is a view.
    const own = new Uint8Array(n);
    own.set(src.subarray(start, end));
    return own;
  }
  if (used + n > SLAB_BYTES) {
    slab = newSlab();
    slabBytes = new Uint8Array(slab);
    used = 0;
  }
  const at = used;
  if (n < 64) for (let i = 0; i < n; i++) slabBytes[at + i] = src[start + i] as number;
  else slabBytes.set(src.subarray(start, end), at);
  // 8-byte alignment keeps later views cheap to make into wider typed arrays.
  used = (at + n + 7) & ~7;
  return new Uint8Array(slab, at, n);
}
