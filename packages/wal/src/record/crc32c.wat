;; CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), slice-by-8, over a range of this module's own memory.
;; The host writes the eight 256-entry tables at bytes [0, 8192) before the first call (T[k][b] at (k * 256 + b) * 4:
;; the CRC of byte b followed by k zero bytes) and keeps its data after them. Its bytes are in crc32c-wasm-bytes.ts;
;; test/record/crc-memory.test.ts assembles this file with wabt and fails when they differ (run it with
;; UPDATE_CRC_WASM=1 to rewrite them after an edit here).
(module
  (memory (export "memory") 1)
  ;; crc(prev, p, n): the CRC of bytes [p, p + n) chained from prev (Go's crc32.Update).
  (func (export "crc") (param $prev i32) (param $p i32) (param $n i32) (result i32)
    (local $c i32) (local $lo i32) (local $hi i32) (local $end i32) (local $end8 i32)
    (local.set $c (i32.xor (local.get $prev) (i32.const -1)))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (local.set $end8 (i32.sub (local.get $end) (i32.const 8)))
    ;; Eight bytes a step: the low word folds into the CRC, each byte indexes the table of its distance to the end.
    (block $done8
      (loop $step8
        (br_if $done8 (i32.gt_u (local.get $p) (local.get $end8)))
        (local.set $lo (i32.xor (local.get $c) (i32.load (local.get $p))))
        (local.set $hi (i32.load offset=4 (local.get $p)))
        (local.set $c
          (i32.xor
            (i32.xor
              (i32.xor
                (i32.load offset=7168 (i32.shl (i32.and (local.get $lo) (i32.const 255)) (i32.const 2)))
                (i32.load offset=6144
                  (i32.shl (i32.and (i32.shr_u (local.get $lo) (i32.const 8)) (i32.const 255)) (i32.const 2))))
              (i32.xor
                (i32.load offset=5120
                  (i32.shl (i32.and (i32.shr_u (local.get $lo) (i32.const 16)) (i32.const 255)) (i32.const 2)))
                (i32.load offset=4096 (i32.shl (i32.shr_u (local.get $lo) (i32.const 24)) (i32.const 2)))))
            (i32.xor
              (i32.xor
                (i32.load offset=3072 (i32.shl (i32.and (local.get $hi) (i32.const 255)) (i32.const 2)))
                (i32.load offset=2048
                  (i32.shl (i32.and (i32.shr_u (local.get $hi) (i32.const 8)) (i32.const 255)) (i32.const 2))))
              (i32.xor
                (i32.load offset=1024
                  (i32.shl (i32.and (i32.shr_u (local.get $hi) (i32.const 16)) (i32.const 255)) (i32.const 2)))
                (i32.load (i32.shl (i32.shr_u (local.get $hi) (i32.const 24)) (i32.const 2)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $step8)))
    ;; The last 0-7 bytes one at a time.
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c
          (i32.xor
            (i32.load
              (i32.shl (i32.and (i32.xor (local.get $c) (i32.load8_u (local.get $p))) (i32.const 255)) (i32.const 2)))
            (i32.shr_u (local.get $c) (i32.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $step)))
    (i32.xor (local.get $c) (i32.const -1))))
