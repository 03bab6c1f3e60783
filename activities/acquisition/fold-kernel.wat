;; Fold kernel: adds one ensemble member's float32 probabilities (rows x
;; classes, row-major) to an accumulator's float64 sums, with the same
;; arithmetic in the same order as foldRowsJs in ensemble-accumulator.ts, so
;; both give bit-identical sums, entropies and votes.
;;
;; Per row: sums[c] += p[c]; entropy += -(sum p ln p), renormalised when
;; |row sum - 1| > tol; arg = first class holding the row's maximum.
;; A row is read four classes at a time; the row sum and sum p ln p each
;; keep two lanes, lane 0 adding (x[c] + x[c+2]) and lane 1 (x[c+1] +
;; x[c+3]) for c = 0, 4, 8, ... (x = p, or p ln p), and end as lane 0 +
;; lane 1. The last vector of a row has the lanes past its end zeroed (they
;; add zeros: no change).
;;
;; ln p from the float32 bits (see float32-log.ts): the mantissa rounded
;; to the nearest of the points 1 + j/1024, j = 0..1024, ln p = e ln 2 +
;; ln(point) + ln(1 + r) with |r| <= 2^-11, ln(1 + r) ~ r + r^2 (r/3 - 1/2).
;; The table at address 0 holds ln(point) and 2^-23/point as two f64 per
;; point (16 bytes, 1025 points); the caller writes it from float32-log.ts.
;;
;; The caller keeps 32 bytes of memory past its last region: the last vector
;; of a row, and its sums, are loaded whole (values past the row are not
;; used, and only the row's sums are stored).
;;
;; Votes: with $votes non-zero, the uint16 vote of each row's argmax class
;; is incremented there (rows x classes, like the sums; the caller ensures
;; no overflow); else each row's argmax class goes to $arg (int32 per row).
;;
;; Returns -1, or the first row that is not finite, has a negative value or
;; sums to zero (the caller names the problem; the sums are then unusable).
;; Regenerate the bytes after editing: node dist/infra/build-fold-kernel.js
(module
  (import "fold" "memory" (memory 1))
  (import "fold" "log" (func $log (param f64) (result f64)))

  (func (export "fold")
    (param $probs i32) (param $sums i32) (param $ent i32) (param $votes i32) (param $arg i32)
    (param $rows i32) (param $classes i32) (param $tol f64)
    (result i32)
    (local $row i32) (local $q i32) (local $t i32) (local $rowEnd i32)
    (local $tail i32) (local $lastBits i32) (local $mask i32) (local $found i32) (local $counting i32)
    (local $maxBits i32)
    (local $v v128) (local $lo v128) (local $hi v128)
    (local $idx v128) (local $off v128) (local $ex v128) (local $r v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local $sumAcc v128) (local $plpAcc v128) (local $plp1 v128)
    (local $mx v128) (local $tailMask v128) (local $bestv v128)
    (local $kMant v128) (local $kRound v128) (local $kBias v128) (local $kLn2 v128) (local $kHalf v128) (local $kThird v128)
    (local $y f32) (local $best f32)
    (local $sum f64) (local $plp f64) (local $h f64) (local $inv f64) (local $corr f64)

    ;; Constants in locals: V8 rebuilds a v128.const at every use inside a loop.
    (local.set $kMant (v128.const i32x4 0x7fffff 0x7fffff 0x7fffff 0x7fffff))
    (local.set $kRound (v128.const i32x4 0x1000 0x1000 0x1000 0x1000))
    (local.set $kBias (v128.const i32x4 127 127 127 127))
    (local.set $kLn2 (v128.const f64x2 0x1.62e42fefa39efp-1 0x1.62e42fefa39efp-1))
    (local.set $kHalf (v128.const f64x2 0.5 0.5))
    (local.set $kThird (v128.const f64x2 0x1.5555555555555p-2 0x1.5555555555555p-2))
    ;; Lanes of a row's last vector that are in the row.
    (local.set $tail (i32.and (local.get $classes) (i32.const 3)))
    (local.set $tailMask (i32x4.gt_s (i32x4.splat (select (local.get $tail) (i32.const 4) (local.get $tail)))
      (v128.const i32x4 0 1 2 3)))
    (local.set $lastBits (i32x4.bitmask (local.get $tailMask)))
    (local.set $counting (i32.ne (local.get $votes) (i32.const 0)))

    (block $done
      (loop $eachRow
        (br_if $done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $rowEnd (i32.add (local.get $probs) (i32.shl (local.get $classes) (i32.const 2))))
        (local.set $sumAcc (v128.const i64x2 0 0))
        (local.set $plpAcc (v128.const i64x2 0 0))
        (local.set $mx (v128.const i64x2 0 0))
        (local.set $q (local.get $probs))
        (local.set $t (local.get $sums))

        (loop $eachVec
          (local.set $v (v128.load align=4 (local.get $q)))
          (if (i32.gt_u (i32.add (local.get $q) (i32.const 16)) (local.get $rowEnd))
            (then (local.set $v (v128.and (local.get $v) (local.get $tailMask)))))
          ;; Bits of non-negative floats order like their values: the lanes'
          ;; largest bits give the maximum, or a set sign bit.
          (local.set $mx (i32x4.max_u (local.get $mx) (local.get $v)))
          (local.set $lo (f64x2.promote_low_f32x4 (local.get $v)))
          (local.set $hi (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))))
          (local.set $sumAcc (f64x2.add (local.get $sumAcc) (f64x2.add (local.get $lo) (local.get $hi))))
          ;; Mantissa rounded to the nearest point j/1024, j in 0..1024: table byte address
          ;; (((bits & 0x7fffff) + 2^12) >>> 13) * 16; offset from the point = the low 13 bits
          ;; of bits, sign-extended; exponent (bits >>> 23) - 127.
          (local.set $idx (i32x4.shl (i32x4.shr_u
            (i32x4.add (v128.and (local.get $v) (local.get $kMant)) (local.get $kRound)) (i32.const 13)) (i32.const 4)))
          (local.set $ex (i32x4.sub (i32x4.shr_u (local.get $v) (i32.const 23)) (local.get $kBias)))
          (local.set $t0 (v128.load (i32x4.extract_lane 0 (local.get $idx))))
          (local.set $t1 (v128.load (i32x4.extract_lane 1 (local.get $idx))))
          (local.set $t2 (v128.load (i32x4.extract_lane 2 (local.get $idx))))
          (local.set $t3 (v128.load (i32x4.extract_lane 3 (local.get $idx))))
          (local.set $off (i32x4.shr_s (i32x4.shl (local.get $v) (i32.const 19)) (i32.const 19)))
          ;; Lanes 0 and 1: r = off * scale; ln = (e ln2 + ln point) + (r + r^2 (r/3 - 1/2)).
          (local.set $r (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $off))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1))))
          (local.set $plp1 (f64x2.mul (local.get $lo)
            (f64x2.add
              (f64x2.add
                (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $ex)) (local.get $kLn2))
                (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
              (f64x2.add (local.get $r)
                (f64x2.mul (f64x2.mul (local.get $r) (local.get $r))
                  (f64x2.sub (f64x2.mul (local.get $r) (local.get $kThird)) (local.get $kHalf)))))))
          ;; Lanes 2 and 3.
          (local.set $r (f64x2.mul
            (f64x2.convert_low_i32x4_s
              (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $off) (local.get $off)))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3))))
          (local.set $plpAcc (f64x2.add (local.get $plpAcc) (f64x2.add (local.get $plp1)
            (f64x2.mul (local.get $hi)
              (f64x2.add
                (f64x2.add
                  (f64x2.mul
                    (f64x2.convert_low_i32x4_s
                      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $ex) (local.get $ex)))
                    (local.get $kLn2))
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))
                (f64x2.add (local.get $r)
                  (f64x2.mul (f64x2.mul (local.get $r) (local.get $r))
                    (f64x2.sub (f64x2.mul (local.get $r) (local.get $kThird)) (local.get $kHalf)))))))))
          ;; Add to the sums; only the row's lanes of its last vector.
          (local.set $lo (f64x2.add (v128.load align=8 (local.get $t)) (local.get $lo)))
          (local.set $hi (f64x2.add (v128.load offset=16 align=8 (local.get $t)) (local.get $hi)))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (if (i32.le_u (local.get $q) (local.get $rowEnd))
            (then
              (v128.store align=8 (local.get $t) (local.get $lo))
              (v128.store offset=16 align=8 (local.get $t) (local.get $hi))
              (local.set $t (i32.add (local.get $t) (i32.const 32)))
              (br_if $eachVec (i32.lt_u (local.get $q) (local.get $rowEnd))))
            (else
              (if (i32.eq (local.get $tail) (i32.const 1))
                (then (f64.store (local.get $t) (f64x2.extract_lane 0 (local.get $lo))))
                (else
                  (v128.store align=8 (local.get $t) (local.get $lo))
                  (if (i32.eq (local.get $tail) (i32.const 3))
                    (then (f64.store offset=16 (local.get $t) (f64x2.extract_lane 0 (local.get $hi))))))))))

        (local.set $sum (f64.add (f64x2.extract_lane 0 (local.get $sumAcc)) (f64x2.extract_lane 1 (local.get $sumAcc))))
        (local.set $plp (f64.add (f64x2.extract_lane 0 (local.get $plpAcc)) (f64x2.extract_lane 1 (local.get $plpAcc))))
        (local.set $mx (i32x4.max_u (local.get $mx)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $mx) (local.get $mx))))
        (local.set $maxBits (i32x4.extract_lane 0 (i32x4.max_u (local.get $mx)
          (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $mx) (local.get $mx)))))

        ;; NaN and +-Inf make the sum non-finite.
        (if (i32.eqz (i32.and (f64.gt (local.get $sum) (f64.const 0)) (f64.lt (local.get $sum) (f64.const inf))))
          (then (return (local.get $row))))
        (if (i32.lt_s (local.get $maxBits) (i32.const 0))
          (then
            ;; A sign bit: a negative value, or a harmless -0 (then the maximum value by value).
            (local.set $best (f32.const -1))
            (local.set $q (local.get $probs))
            (loop $eachValue
              (local.set $y (f32.load (local.get $q)))
              (if (f32.lt (local.get $y) (f32.const 0)) (then (return (local.get $row))))
              (if (f32.gt (local.get $y) (local.get $best)) (then (local.set $best (local.get $y))))
              (local.set $q (i32.add (local.get $q) (i32.const 4)))
              (br_if $eachValue (i32.lt_u (local.get $q) (local.get $rowEnd)))))
          (else (local.set $best (f32.reinterpret_i32 (local.get $maxBits)))))

        ;; First class holding the maximum: short rows without branches
        ;; (last vector to first, keeping the earliest), long rows until found.
        (local.set $bestv (f32x4.splat (local.get $best)))
        (if (i32.le_u (local.get $classes) (i32.const 32))
          (then
            (local.set $q (i32.add (local.get $probs)
              (i32.shl (i32.shr_u (i32.sub (local.get $classes) (i32.const 1)) (i32.const 2)) (i32.const 4))))
            (local.set $mask (i32.and (local.get $lastBits)
              (i32x4.bitmask (f32x4.eq (v128.load align=4 (local.get $q)) (local.get $bestv)))))
            (local.set $found (i32.add (local.get $q) (i32.shl (i32.ctz (local.get $mask)) (i32.const 2))))
            (block $scanned
              (loop $eachBack
                (br_if $scanned (i32.eq (local.get $q) (local.get $probs)))
                (local.set $q (i32.sub (local.get $q) (i32.const 16)))
                (local.set $mask (i32x4.bitmask (f32x4.eq (v128.load align=4 (local.get $q)) (local.get $bestv))))
                (local.set $found (select
                  (i32.add (local.get $q) (i32.shl (i32.ctz (local.get $mask)) (i32.const 2)))
                  (local.get $found)
                  (local.get $mask)))
                (br $eachBack))))
          (else
            (local.set $q (local.get $probs))
            (block $hit
              (loop $eachForward
                (local.set $mask (i32x4.bitmask (f32x4.eq (v128.load align=4 (local.get $q)) (local.get $bestv))))
                (br_if $hit (local.get $mask))
                (local.set $q (i32.add (local.get $q) (i32.const 16)))
                (br $eachForward)))
            ;; The maximum is in the row, so the hit is in the row.
            (local.set $found (i32.add (local.get $q) (i32.shl (i32.ctz (local.get $mask)) (i32.const 2))))))
        (if (local.get $counting)
          (then
            (local.set $t (i32.add (local.get $votes) (i32.shr_u (i32.sub (local.get $found) (local.get $probs)) (i32.const 1))))
            (i32.store16 (local.get $t) (i32.add (i32.load16_u (local.get $t)) (i32.const 1))))
          (else
            (i32.store (local.get $arg) (i32.shr_u (i32.sub (local.get $found) (local.get $probs)) (i32.const 2)))))

        ;; Entropy; renormalised to p/s it is ln s - (1/s) sum p ln p.
        (local.set $h (f64.neg (local.get $plp)))
        (if (f64.gt (f64.abs (f64.sub (local.get $sum) (f64.const 1))) (local.get $tol))
          (then
            (local.set $inv (f64.div (f64.const 1) (local.get $sum)))
            (local.set $corr (f64.sub (local.get $inv) (f64.const 1)))
            (local.set $q (local.get $probs))
            (local.set $t (local.get $sums))
            (loop $eachRenorm
              (f64.store (local.get $t)
                (f64.add (f64.load (local.get $t))
                  (f64.mul (f64.promote_f32 (f32.load (local.get $q))) (local.get $corr))))
              (local.set $q (i32.add (local.get $q) (i32.const 4)))
              (local.set $t (i32.add (local.get $t) (i32.const 8)))
              (br_if $eachRenorm (i32.lt_u (local.get $q) (local.get $rowEnd))))
            (local.set $h (f64.sub (call $log (local.get $sum)) (f64.mul (local.get $inv) (local.get $plp))))))
        (f64.store (local.get $ent)
          (f64.add (f64.load (local.get $ent))
            (select (local.get $h) (f64.const 0) (f64.gt (local.get $h) (f64.const 0)))))

        (local.set $probs (local.get $rowEnd))
        (local.set $sums (i32.add (local.get $sums) (i32.shl (local.get $classes) (i32.const 3))))
        (local.set $ent (i32.add (local.get $ent) (i32.const 8)))
        (local.set $arg (i32.add (local.get $arg) (i32.const 4)))
        (local.set $votes (i32.add (local.get $votes) (i32.shl (local.get $classes) (i32.const 1))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $eachRow)))
    (i32.const -1)))
