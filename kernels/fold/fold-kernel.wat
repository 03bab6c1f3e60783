;; Fold kernel: adds one ensemble member's float32 probabilities (rows x
;; classes, row-major) to an accumulator's float64 sums, with the same
;; arithmetic in the same order as foldRowsJs in ensemble-accumulator.ts, so
;; both give bit-identical sums, entropies and votes.
;;
;; Rows go four at a time, one row per SIMD lane: class c of the four rows
;; is one vector, so row sums, maxima and sum p ln p need no horizontal
;; reductions, and a row of 10 classes wastes no lanes. Each block of 16
;; classes is first staged at address 128 in that layout (four classes at a
;; time by a 4x4 transpose of one load per row, the rest lane by lane).
;; Per group of four rows (fewer at the end: missing lanes repeat the last
;; row and are ignored):
;; - sums: every probability is added to its float64 sum, element by
;;   element in memory order;
;; - per row (lane), classes in order, in blocks of 16 classes: float32
;;   block sums of p, of p * k and of the p ln m term (see below), added to
;;   float64 totals at the end of each block; sum p ln p = ln2 * (p k total)
;;   + (p ln m total);
;; - argmax: the first class holding the row's maximum (compared as int32
;;   bits, which order like the values for non-negative floats; a row with a
;;   sign bit is checked one value at a time);
;; - a group whose rows are all valid and need no renormalising (|row sum -
;;   1| <= tol) adds its entropies and votes with vector ops; any other group
;;   is finished one row at a time from a scratch copy at address 0 (the
;;   caller keeps the first 384 bytes of memory free: 128 + 16 x 16 staged).
;;
;; ln p in float32 (float32-log.ts has it in JS and the error bound):
;; p = 2^k m with m in [sqrt(1/2), sqrt(2)) from the bits (k = (bits -
;; bits(sqrt(1/2))) >> 23, arithmetic shift); ln m = 2 atanh(s), s = f / (f
;; + 2), f = m - 1, as 2s + 2s w Q(w), w = s^2, Q a degree-2 fit of
;; (atanh(s)/s - 1)/w. p ln m is formed as ph + ph (w Q) with ph = p * 2s.
;; Zero gives k = -127, m = 1: 0 * finite = 0, no branch.
;;
;; Votes: with $votes non-zero, the uint16 vote of each row's argmax class
;; is incremented there (rows x classes, like the sums; the caller ensures
;; no overflow); else each row's argmax class goes to $arg (int32 per row).
;;
;; Returns -1, or the first row that is not finite, has a negative value or
;; sums to zero (the caller names the problem; the sums are then unusable:
;; rows after it in its group of four were already added).
;; Regenerate the bytes after editing: npm run build:wat
(module
  (import "fold" "memory" (memory 1))
  (import "fold" "log" (func $log (param f64) (result f64)))

  (func (export "fold")
    (param $probs i32) (param $sums i32) (param $ent i32) (param $votes i32) (param $arg i32)
    (param $rows i32) (param $classes i32) (param $tol f64)
    (result i32)
    (local $row i32) (local $n i32) (local $rowBytes i32) (local $counting i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $q i32) (local $t i32) (local $qEnd i32) (local $off i32) (local $blockEnd i32)
    (local $lane i32) (local $r i32) (local $a i32) (local $pr i32) (local $prEnd i32)
    (local $sum f64) (local $plp f64) (local $h f64) (local $inv f64) (local $corr f64)
    (local $v v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $k v128) (local $f v128) (local $s v128) (local $w v128) (local $ph v128)
    ;; Per lane: float32 block sums of p, p k, p ln m; their float64 totals (rows 0-1, rows 2-3).
    (local $bSum v128) (local $bK v128) (local $bM v128)
    (local $sumLo v128) (local $sumHi v128) (local $kLo v128) (local $kHi v128) (local $mLo v128) (local $mHi v128)
    (local $best v128) (local $argv v128) (local $cvec v128) (local $signs v128)
    (local $cSqrtHalf v128) (local $cOne v128) (local $cTwo v128) (local $cQ0 v128) (local $cQ1 v128) (local $cQ2 v128)
    (local $cOnes v128) (local $cTol v128)

    ;; Constants in locals: V8 rebuilds a v128.const at every use inside a loop.
    (local.set $cSqrtHalf (v128.const i32x4 0x3f3504f3 0x3f3504f3 0x3f3504f3 0x3f3504f3))
    (local.set $cOne (v128.const f32x4 1 1 1 1))
    (local.set $cTwo (v128.const f32x4 2 2 2 2))
    (local.set $cQ0 (v128.const f32x4 0.33333343 0.33333343 0.33333343 0.33333343))
    (local.set $cQ1 (v128.const f32x4 0.19994389 0.19994389 0.19994389 0.19994389))
    (local.set $cQ2 (v128.const f32x4 0.14790023 0.14790023 0.14790023 0.14790023))
    (local.set $cOnes (v128.const i32x4 1 1 1 1))
    (local.set $cTol (f64x2.splat (local.get $tol)))
    (local.set $rowBytes (i32.shl (local.get $classes) (i32.const 2)))
    (local.set $counting (i32.ne (local.get $votes) (i32.const 0)))

    (block $done
      (loop $eachGroup
        (br_if $done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $n (select (i32.const 4) (i32.sub (local.get $rows) (local.get $row))
          (i32.gt_u (i32.sub (local.get $rows) (local.get $row)) (i32.const 4))))
        (local.set $p0 (i32.add (local.get $probs) (i32.mul (local.get $row) (local.get $rowBytes))))
        (local.set $p1 (select (i32.add (local.get $p0) (local.get $rowBytes)) (local.get $p0) (i32.gt_u (local.get $n) (i32.const 1))))
        (local.set $p2 (select (i32.add (local.get $p1) (local.get $rowBytes)) (local.get $p1) (i32.gt_u (local.get $n) (i32.const 2))))
        (local.set $p3 (select (i32.add (local.get $p2) (local.get $rowBytes)) (local.get $p2) (i32.gt_u (local.get $n) (i32.const 3))))

        ;; Sums: each probability of the group's rows added to its float64 sum, in memory order.
        (local.set $q (local.get $p0))
        (local.set $t (i32.add (local.get $sums) (i32.shl (i32.mul (local.get $row) (local.get $classes)) (i32.const 3))))
        (local.set $qEnd (i32.add (local.get $p0) (i32.mul (local.get $n) (local.get $rowBytes))))
        (block $vectorsDone
          (loop $eachVector
            (br_if $vectorsDone (i32.gt_u (i32.add (local.get $q) (i32.const 16)) (local.get $qEnd)))
            (local.set $v (v128.load align=4 (local.get $q)))
            (v128.store align=8 (local.get $t)
              (f64x2.add (v128.load align=8 (local.get $t)) (f64x2.promote_low_f32x4 (local.get $v))))
            (v128.store offset=16 align=8 (local.get $t)
              (f64x2.add (v128.load offset=16 align=8 (local.get $t))
                (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (local.set $t (i32.add (local.get $t) (i32.const 32)))
            (br $eachVector)))
        (block $scalarsDone
          (loop $eachScalar
            (br_if $scalarsDone (i32.ge_u (local.get $q) (local.get $qEnd)))
            (f64.store (local.get $t) (f64.add (f64.load (local.get $t)) (f64.promote_f32 (f32.load (local.get $q)))))
            (local.set $q (i32.add (local.get $q) (i32.const 4)))
            (local.set $t (i32.add (local.get $t) (i32.const 8)))
            (br $eachScalar)))

        ;; One row per lane: class c of the four rows in one vector.
        (local.set $bSum (v128.const i64x2 0 0))
        (local.set $bK (v128.const i64x2 0 0))
        (local.set $bM (v128.const i64x2 0 0))
        (local.set $sumLo (v128.const i64x2 0 0))
        (local.set $sumHi (v128.const i64x2 0 0))
        (local.set $kLo (v128.const i64x2 0 0))
        (local.set $kHi (v128.const i64x2 0 0))
        (local.set $mLo (v128.const i64x2 0 0))
        (local.set $mHi (v128.const i64x2 0 0))
        (local.set $best (v128.const i32x4 -1 -1 -1 -1))
        (local.set $argv (v128.const i64x2 0 0))
        (local.set $cvec (v128.const i64x2 0 0))
        (local.set $signs (v128.const i64x2 0 0))
        (local.set $off (i32.const 0))
        (loop $eachBlock
          (local.set $blockEnd (select (local.get $rowBytes) (i32.add (local.get $off) (i32.const 64))
            (i32.gt_u (i32.add (local.get $off) (i32.const 64)) (local.get $rowBytes))))
          ;; Stage the block at address 128: class c of the four rows as one vector, four classes
          ;; at a time by a 4x4 transpose of four row loads, the rest gathered lane by lane.
          (local.set $q (i32.const 128))
          (local.set $t (local.get $off))
          (block $quadsDone
            (loop $eachQuad
              (br_if $quadsDone (i32.gt_u (i32.add (local.get $t) (i32.const 16)) (local.get $blockEnd)))
              (local.set $a0 (v128.load align=4 (i32.add (local.get $p0) (local.get $t))))
              (local.set $a1 (v128.load align=4 (i32.add (local.get $p1) (local.get $t))))
              (local.set $a2 (v128.load align=4 (i32.add (local.get $p2) (local.get $t))))
              (local.set $a3 (v128.load align=4 (i32.add (local.get $p3) (local.get $t))))
              (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1)))
              (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1)))
              (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3)))
              (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3)))
              (v128.store (local.get $q) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
              (v128.store offset=16 (local.get $q) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
              (v128.store offset=32 (local.get $q) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
              (v128.store offset=48 (local.get $q) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
              (local.set $q (i32.add (local.get $q) (i32.const 64)))
              (local.set $t (i32.add (local.get $t) (i32.const 16)))
              (br $eachQuad)))
          (block $gathersDone
            (loop $eachGather
              (br_if $gathersDone (i32.ge_u (local.get $t) (local.get $blockEnd)))
              (local.set $v (v128.load32_zero (i32.add (local.get $p0) (local.get $t))))
              (local.set $v (v128.load32_lane 1 (i32.add (local.get $p1) (local.get $t)) (local.get $v)))
              (local.set $v (v128.load32_lane 2 (i32.add (local.get $p2) (local.get $t)) (local.get $v)))
              (local.set $v (v128.load32_lane 3 (i32.add (local.get $p3) (local.get $t)) (local.get $v)))
              (v128.store (local.get $q) (local.get $v))
              (local.set $q (i32.add (local.get $q) (i32.const 16)))
              (local.set $t (i32.add (local.get $t) (i32.const 4)))
              (br $eachGather)))
          (local.set $q (i32.const 128))
          (loop $eachClass
            (local.set $v (v128.load (local.get $q)))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (local.set $signs (v128.or (local.get $signs) (local.get $v)))
            ;; Class indices only grow, so "take c where p beats the best" is max(arg, c & mask).
            (local.set $argv (i32x4.max_u (local.get $argv)
              (v128.and (local.get $cvec) (i32x4.gt_s (local.get $v) (local.get $best)))))
            (local.set $best (i32x4.max_s (local.get $v) (local.get $best)))
            (local.set $cvec (i32x4.add (local.get $cvec) (local.get $cOnes)))
            (local.set $bSum (f32x4.add (local.get $bSum) (local.get $v)))
            ;; p = 2^k m, f = m - 1 (exact), s = f / (f + 2).
            (local.set $k (i32x4.shr_s (i32x4.sub (local.get $v) (local.get $cSqrtHalf)) (i32.const 23)))
            (local.set $f (f32x4.sub (i32x4.sub (local.get $v) (i32x4.shl (local.get $k) (i32.const 23))) (local.get $cOne)))
            (local.set $bK (f32x4.add (local.get $bK) (f32x4.mul (local.get $v) (f32x4.convert_i32x4_s (local.get $k)))))
            (local.set $s (f32x4.div (local.get $f) (f32x4.add (local.get $f) (local.get $cTwo))))
            (local.set $w (f32x4.mul (local.get $s) (local.get $s)))
            (local.set $ph (f32x4.mul (local.get $v) (f32x4.add (local.get $s) (local.get $s))))
            ;; p ln m = ph + ph (w Q(w)), Q(w) = (Q0 + w Q1) + w^2 Q2.
            (local.set $bM (f32x4.add (local.get $bM)
              (f32x4.add (local.get $ph) (f32x4.mul (local.get $ph) (f32x4.mul (local.get $w)
                (f32x4.add
                  (f32x4.add (local.get $cQ0) (f32x4.mul (local.get $w) (local.get $cQ1)))
                  (f32x4.mul (f32x4.mul (local.get $w) (local.get $w)) (local.get $cQ2))))))))
            (local.set $off (i32.add (local.get $off) (i32.const 4)))
            (br_if $eachClass (i32.lt_u (local.get $off) (local.get $blockEnd))))
          (local.set $sumLo (f64x2.add (local.get $sumLo) (f64x2.promote_low_f32x4 (local.get $bSum))))
          (local.set $sumHi (f64x2.add (local.get $sumHi) (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $bSum) (local.get $bSum)))))
          (local.set $kLo (f64x2.add (local.get $kLo) (f64x2.promote_low_f32x4 (local.get $bK))))
          (local.set $kHi (f64x2.add (local.get $kHi) (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $bK) (local.get $bK)))))
          (local.set $mLo (f64x2.add (local.get $mLo) (f64x2.promote_low_f32x4 (local.get $bM))))
          (local.set $mHi (f64x2.add (local.get $mHi) (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $bM) (local.get $bM)))))
          (local.set $bSum (v128.const i64x2 0 0))
          (local.set $bK (v128.const i64x2 0 0))
          (local.set $bM (v128.const i64x2 0 0))
          (br_if $eachBlock (i32.lt_u (local.get $off) (local.get $rowBytes))))
        ;; sum p ln p = ln2 * (sum p k) + sum p ln m; kept in $mLo/$mHi.
        (local.set $mLo (f64x2.add (f64x2.mul (local.get $kLo) (v128.const f64x2 0x1.62e42fefa39efp-1 0x1.62e42fefa39efp-1)) (local.get $mLo)))
        (local.set $mHi (f64x2.add (f64x2.mul (local.get $kHi) (v128.const f64x2 0x1.62e42fefa39efp-1 0x1.62e42fefa39efp-1)) (local.get $mHi)))

        (if (i32.and
              (i32.and (i32.eq (local.get $n) (i32.const 4)) (i32.eqz (i32x4.bitmask (local.get $signs))))
              (i64x2.all_true (v128.and
                (v128.and
                  (v128.and (f64x2.gt (local.get $sumLo) (v128.const f64x2 0 0)) (f64x2.lt (local.get $sumLo) (v128.const f64x2 inf inf)))
                  (v128.and (f64x2.gt (local.get $sumHi) (v128.const f64x2 0 0)) (f64x2.lt (local.get $sumHi) (v128.const f64x2 inf inf))))
                (v128.and
                  (f64x2.le (f64x2.abs (f64x2.sub (local.get $sumLo) (v128.const f64x2 1 1))) (local.get $cTol))
                  (f64x2.le (f64x2.abs (f64x2.sub (local.get $sumHi) (v128.const f64x2 1 1))) (local.get $cTol))))))
          (then
            ;; Four valid rows, none renormalised: entropy -sum p ln p (negative noise to 0), votes.
            (local.set $t (i32.add (local.get $ent) (i32.shl (local.get $row) (i32.const 3))))
            (v128.store align=8 (local.get $t) (f64x2.add (v128.load align=8 (local.get $t))
              (f64x2.pmax (v128.const f64x2 0 0) (f64x2.neg (local.get $mLo)))))
            (v128.store offset=16 align=8 (local.get $t) (f64x2.add (v128.load offset=16 align=8 (local.get $t))
              (f64x2.pmax (v128.const f64x2 0 0) (f64x2.neg (local.get $mHi)))))
            (if (local.get $counting)
              (then
                (local.set $t (i32.add (local.get $votes) (i32.shl (i32.mul (local.get $row) (local.get $classes)) (i32.const 1))))
                (local.set $q (i32.add (local.get $t) (i32.shl (i32x4.extract_lane 0 (local.get $argv)) (i32.const 1))))
                (i32.store16 (local.get $q) (i32.add (i32.load16_u (local.get $q)) (i32.const 1)))
                (local.set $t (i32.add (local.get $t) (i32.shl (local.get $classes) (i32.const 1))))
                (local.set $q (i32.add (local.get $t) (i32.shl (i32x4.extract_lane 1 (local.get $argv)) (i32.const 1))))
                (i32.store16 (local.get $q) (i32.add (i32.load16_u (local.get $q)) (i32.const 1)))
                (local.set $t (i32.add (local.get $t) (i32.shl (local.get $classes) (i32.const 1))))
                (local.set $q (i32.add (local.get $t) (i32.shl (i32x4.extract_lane 2 (local.get $argv)) (i32.const 1))))
                (i32.store16 (local.get $q) (i32.add (i32.load16_u (local.get $q)) (i32.const 1)))
                (local.set $t (i32.add (local.get $t) (i32.shl (local.get $classes) (i32.const 1))))
                (local.set $q (i32.add (local.get $t) (i32.shl (i32x4.extract_lane 3 (local.get $argv)) (i32.const 1))))
                (i32.store16 (local.get $q) (i32.add (i32.load16_u (local.get $q)) (i32.const 1))))
              (else
                (v128.store align=4 (i32.add (local.get $arg) (i32.shl (local.get $row) (i32.const 2))) (local.get $argv)))))
          (else
            ;; One row at a time, from a scratch copy of the lanes at address 0.
            (v128.store (i32.const 0) (local.get $sumLo))
            (v128.store (i32.const 16) (local.get $sumHi))
            (v128.store (i32.const 32) (local.get $mLo))
            (v128.store (i32.const 48) (local.get $mHi))
            (v128.store (i32.const 64) (local.get $argv))
            (v128.store (i32.const 80) (local.get $signs))
            (local.set $lane (i32.const 0))
            (loop $eachLane
              (local.set $r (i32.add (local.get $row) (local.get $lane)))
              (local.set $sum (f64.load (i32.shl (local.get $lane) (i32.const 3))))
              (local.set $plp (f64.load offset=32 (i32.shl (local.get $lane) (i32.const 3))))
              (local.set $a (i32.load offset=64 (i32.shl (local.get $lane) (i32.const 2))))
              (local.set $pr (i32.add (local.get $p0) (i32.mul (local.get $lane) (local.get $rowBytes))))
              (local.set $prEnd (i32.add (local.get $pr) (local.get $rowBytes)))
              ;; NaN and +-Inf make the sum non-finite.
              (if (i32.eqz (i32.and (f64.gt (local.get $sum) (f64.const 0)) (f64.lt (local.get $sum) (f64.const inf))))
                (then (return (local.get $r))))
              ;; A sign bit: a negative value, or a harmless -0.
              (if (i32.lt_s (i32.load offset=80 (i32.shl (local.get $lane) (i32.const 2))) (i32.const 0))
                (then
                  (local.set $q (local.get $pr))
                  (loop $eachValue
                    (if (f32.lt (f32.load (local.get $q)) (f32.const 0)) (then (return (local.get $r))))
                    (local.set $q (i32.add (local.get $q) (i32.const 4)))
                    (br_if $eachValue (i32.lt_u (local.get $q) (local.get $prEnd))))))
              ;; Entropy; renormalised to p/s it is ln s - (1/s) sum p ln p.
              (local.set $h (f64.neg (local.get $plp)))
              (if (f64.gt (f64.abs (f64.sub (local.get $sum) (f64.const 1))) (local.get $tol))
                (then
                  (local.set $inv (f64.div (f64.const 1) (local.get $sum)))
                  (local.set $corr (f64.sub (local.get $inv) (f64.const 1)))
                  (local.set $q (local.get $pr))
                  (local.set $t (i32.add (local.get $sums) (i32.shl (i32.mul (local.get $r) (local.get $classes)) (i32.const 3))))
                  (loop $eachRenorm
                    (f64.store (local.get $t)
                      (f64.add (f64.load (local.get $t))
                        (f64.mul (f64.promote_f32 (f32.load (local.get $q))) (local.get $corr))))
                    (local.set $q (i32.add (local.get $q) (i32.const 4)))
                    (local.set $t (i32.add (local.get $t) (i32.const 8)))
                    (br_if $eachRenorm (i32.lt_u (local.get $q) (local.get $prEnd))))
                  (local.set $h (f64.sub (call $log (local.get $sum)) (f64.mul (local.get $inv) (local.get $plp))))))
              (local.set $t (i32.add (local.get $ent) (i32.shl (local.get $r) (i32.const 3))))
              (f64.store (local.get $t) (f64.add (f64.load (local.get $t))
                (select (local.get $h) (f64.const 0) (f64.gt (local.get $h) (f64.const 0)))))
              (if (local.get $counting)
                (then
                  (local.set $t (i32.add (local.get $votes)
                    (i32.shl (i32.add (i32.mul (local.get $r) (local.get $classes)) (local.get $a)) (i32.const 1))))
                  (i32.store16 (local.get $t) (i32.add (i32.load16_u (local.get $t)) (i32.const 1))))
                (else
                  (i32.store (i32.add (local.get $arg) (i32.shl (local.get $r) (i32.const 2))) (local.get $a))))
              (local.set $lane (i32.add (local.get $lane) (i32.const 1)))
              (br_if $eachLane (i32.lt_u (local.get $lane) (local.get $n))))))

        (local.set $row (i32.add (local.get $row) (i32.const 4)))
        (br $eachGroup)))
    (i32.const -1)))
