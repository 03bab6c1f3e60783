;; The fused conv tail of wasm-pool-kernels.ts (bias, relu, 2x2 max pool and
;; its gradient), the first layer's filter gradient and the routed conv-block
;; gradients of wasm-conv-block-kernels.ts (at the end) in WebAssembly SIMD,
;; four channels per vector. It imports
;; the tfjs wasm backend's own memory, so it reads and writes tensors in
;; place at their heap offsets: no copies. JS branches on the data
;; (relu signs, window maxima) mispredict about half the time on real
;; activations; here every choice is a lane mask.
;;
;; Tensors are NHWC float32 (codes int32) with a channel count divisible by
;; 4; rows = batch * pooled height. The conv tail's semantics, bit for bit,
;; are those of the JS loops in wasm-pool-kernels.ts (the code layout is
;; described there); the filter gradient and the routed gradients have no JS
;; twin and sum in their own order (see wasm-conv-block-kernels.ts):
;; - v = x + bias (float32 add); relu r = max(v, 0) (NaN stays NaN);
;; - routing: the first of slots 0..3 (row-major) whose r is greater than
;;   every earlier one, starting from -Infinity (NaN never routes);
;; - pooled y = pmax(pmax(r0, r2), pmax(r3, r1)), a NaN result -Infinity
;;   (what the backend's XNNPACK max pool gives);
;; - gradient: the routed slot gets dy + 0 (so -0 becomes +0) where v > 0,
;;   (dy + 0) * 0 where not, other slots 0, NaN where v was NaN; the bias
;;   gradient adds dx to float64 totals in dx's memory order.
(module
  (import "env" "memory" (memory 1))

  (func (export "bias_relu_pool")
    (param $x i32) (param $bias i32) (param $y i32) (param $code i32)
    (param $rows i32) (param $outW i32) (param $channels i32)
    (local $cBytes i32) (local $rowBytes i32) (local $r i32) (local $ow i32) (local $c i32)
    (local $p i32) (local $b v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $best v128) (local $k v128) (local $m v128) (local $out v128)
    (local.set $cBytes (i32.shl (local.get $channels) (i32.const 2)))
    ;; one input row: 2 * outW pixels
    (local.set $rowBytes (i32.mul (i32.shl (local.get $outW) (i32.const 1)) (local.get $cBytes)))
    (if (i32.eqz (i32.mul (local.get $rows) (i32.mul (local.get $outW) (local.get $channels)))) (then (return)))
    (local.set $r (i32.const 0))
    (loop $rowLoop
      (local.set $ow (i32.const 0))
      (loop $colLoop
        ;; top-left pixel of the window
        (local.set $p (i32.add (local.get $x)
          (i32.add (i32.mul (local.get $r) (i32.shl (local.get $rowBytes) (i32.const 1)))
                   (i32.mul (local.get $ow) (i32.shl (local.get $cBytes) (i32.const 1))))))
        (local.set $c (i32.const 0))
        (loop $chanLoop
          (local.set $b (v128.load (i32.add (local.get $bias) (local.get $c))))
          (local.set $v0 (f32x4.add (v128.load (i32.add (local.get $p) (local.get $c))) (local.get $b)))
          (local.set $v1 (f32x4.add (v128.load (i32.add (i32.add (local.get $p) (local.get $cBytes)) (local.get $c))) (local.get $b)))
          (local.set $v2 (f32x4.add (v128.load (i32.add (i32.add (local.get $p) (local.get $rowBytes)) (local.get $c))) (local.get $b)))
          (local.set $v3 (f32x4.add (v128.load (i32.add (i32.add (i32.add (local.get $p) (local.get $rowBytes)) (local.get $cBytes)) (local.get $c))) (local.get $b)))
          (local.set $r0 (f32x4.max (local.get $v0) (v128.const f32x4 0 0 0 0)))
          (local.set $r1 (f32x4.max (local.get $v1) (v128.const f32x4 0 0 0 0)))
          (local.set $r2 (f32x4.max (local.get $v2) (v128.const f32x4 0 0 0 0)))
          (local.set $r3 (f32x4.max (local.get $v3) (v128.const f32x4 0 0 0 0)))
          ;; routing: strictly greater than the best so far, from -Infinity
          (local.set $m (f32x4.gt (local.get $r0) (v128.const f32x4 -inf -inf -inf -inf)))
          (local.set $best (v128.bitselect (local.get $r0) (v128.const f32x4 -inf -inf -inf -inf) (local.get $m)))
          (local.set $k (v128.and (local.get $m) (v128.const i32x4 4 4 4 4)))
          (local.set $m (f32x4.gt (local.get $r1) (local.get $best)))
          (local.set $best (v128.bitselect (local.get $r1) (local.get $best) (local.get $m)))
          (local.set $k (v128.bitselect (v128.const i32x4 5 5 5 5) (local.get $k) (local.get $m)))
          (local.set $m (f32x4.gt (local.get $r2) (local.get $best)))
          (local.set $best (v128.bitselect (local.get $r2) (local.get $best) (local.get $m)))
          (local.set $k (v128.bitselect (v128.const i32x4 6 6 6 6) (local.get $k) (local.get $m)))
          (local.set $m (f32x4.gt (local.get $r3) (local.get $best)))
          (local.set $k (v128.bitselect (v128.const i32x4 7 7 7 7) (local.get $k) (local.get $m)))
          ;; positive (v > 0) bits 3-6, NaN bits 7-10
          (local.set $k (v128.or (local.get $k) (v128.or
            (v128.or (v128.and (f32x4.gt (local.get $v0) (v128.const f32x4 0 0 0 0)) (v128.const i32x4 8 8 8 8))
                     (v128.and (f32x4.gt (local.get $v1) (v128.const f32x4 0 0 0 0)) (v128.const i32x4 16 16 16 16)))
            (v128.or (v128.and (f32x4.gt (local.get $v2) (v128.const f32x4 0 0 0 0)) (v128.const i32x4 32 32 32 32))
                     (v128.and (f32x4.gt (local.get $v3) (v128.const f32x4 0 0 0 0)) (v128.const i32x4 64 64 64 64))))))
          (local.set $k (v128.or (local.get $k) (v128.or
            (v128.or (v128.and (f32x4.ne (local.get $v0) (local.get $v0)) (v128.const i32x4 128 128 128 128))
                     (v128.and (f32x4.ne (local.get $v1) (local.get $v1)) (v128.const i32x4 256 256 256 256)))
            (v128.or (v128.and (f32x4.ne (local.get $v2) (local.get $v2)) (v128.const i32x4 512 512 512 512))
                     (v128.and (f32x4.ne (local.get $v3) (local.get $v3)) (v128.const i32x4 1024 1024 1024 1024))))))
          (local.set $out (f32x4.pmax (f32x4.pmax (local.get $r0) (local.get $r2)) (f32x4.pmax (local.get $r3) (local.get $r1))))
          (local.set $out (v128.bitselect (v128.const f32x4 -inf -inf -inf -inf) (local.get $out) (f32x4.ne (local.get $out) (local.get $out))))
          (v128.store (local.get $y) (local.get $out))
          (v128.store (local.get $code) (local.get $k))
          (local.set $y (i32.add (local.get $y) (i32.const 16)))
          (local.set $code (i32.add (local.get $code) (i32.const 16)))
          (br_if $chanLoop (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 16))) (local.get $cBytes))))
        (br_if $colLoop (i32.lt_u (local.tee $ow (i32.add (local.get $ow) (i32.const 1))) (local.get $outW))))
      (br_if $rowLoop (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows)))))

  ;; One slot's gradient (inlined below): the routed slot (code & 7 == slot | 4)
  ;; gets g where positive, g * 0 where not, other slots 0; NaN where v was NaN.
  ;; Totals: four float32 lanes added to float64 totals (lanes 0-1 at t, 2-3 at t + 16).

  ;; dx (the full input shape; every element written) and the float64 bias
  ;; totals at $totals (zeroed by the caller, channels * 8 bytes), added in
  ;; dx's memory order: row 2*oh (slots 0, 1) of every window, then row 2*oh + 1.
  (func (export "bias_relu_pool_grad")
    (param $dy i32) (param $code i32) (param $dx i32) (param $totals i32)
    (param $rows i32) (param $outW i32) (param $channels i32)
    (local $cBytes i32) (local $outRowBytes i32) (local $r i32) (local $half i32) (local $ow i32) (local $c i32)
    (local $in i32) (local $d i32) (local $t i32) (local $g v128) (local $k v128) (local $a v128) (local $b v128)
    (local $gz v128) (local $low v128) (local $slotA v128) (local $posA v128) (local $nanA v128)
    (local.set $cBytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $outRowBytes (i32.mul (local.get $outW) (local.get $cBytes)))
    (if (i32.eqz (i32.mul (local.get $rows) (i32.mul (local.get $outW) (local.get $channels)))) (then (return)))
    (local.set $r (i32.const 0))
    (local.set $d (local.get $dx))
    (loop $rowLoop
      (local.set $half (i32.const 0))
      (loop $halfLoop
        ;; routed code of the left slot (2 * half | 4), its positive and NaN bits
        (local.set $slotA (i32x4.splat (i32.or (i32.shl (local.get $half) (i32.const 1)) (i32.const 4))))
        (local.set $posA (i32x4.splat (i32.shl (i32.const 8) (i32.shl (local.get $half) (i32.const 1)))))
        (local.set $nanA (i32x4.splat (i32.shl (i32.const 128) (i32.shl (local.get $half) (i32.const 1)))))
        (local.set $ow (i32.const 0))
        (loop $colLoop
          (local.set $in (i32.add (i32.mul (local.get $r) (local.get $outRowBytes)) (i32.mul (local.get $ow) (local.get $cBytes))))
          (local.set $c (i32.const 0))
          (loop $chanLoop
            (local.set $g (f32x4.add (v128.load (i32.add (i32.add (local.get $dy) (local.get $in)) (local.get $c))) (v128.const f32x4 0 0 0 0)))
            (local.set $k (v128.load (i32.add (i32.add (local.get $code) (local.get $in)) (local.get $c))))
            ;; slots 2 * half (left) and 2 * half + 1 (right); see $slotGradient, inlined here (V8 does not inline wasm calls)
            (local.set $gz (f32x4.mul (local.get $g) (v128.const f32x4 0 0 0 0)))
            (local.set $low (v128.and (local.get $k) (v128.const i32x4 7 7 7 7)))
            (local.set $a (v128.and
              (v128.bitselect (local.get $g) (local.get $gz) (i32x4.ne (v128.and (local.get $k) (local.get $posA)) (v128.const i32x4 0 0 0 0)))
              (i32x4.eq (local.get $low) (local.get $slotA))))
            (local.set $a (v128.bitselect (v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000) (local.get $a)
              (i32x4.ne (v128.and (local.get $k) (local.get $nanA)) (v128.const i32x4 0 0 0 0))))
            (local.set $b (v128.and
              (v128.bitselect (local.get $g) (local.get $gz) (i32x4.ne (v128.and (local.get $k) (i32x4.shl (local.get $posA) (i32.const 1))) (v128.const i32x4 0 0 0 0)))
              (i32x4.eq (local.get $low) (i32x4.add (local.get $slotA) (v128.const i32x4 1 1 1 1)))))
            (local.set $b (v128.bitselect (v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000) (local.get $b)
              (i32x4.ne (v128.and (local.get $k) (i32x4.shl (local.get $nanA) (i32.const 1))) (v128.const i32x4 0 0 0 0))))
            (v128.store (i32.add (local.get $d) (local.get $c)) (local.get $a))
            (v128.store (i32.add (i32.add (local.get $d) (local.get $cBytes)) (local.get $c)) (local.get $b))
            ;; at most one of a, b is non-zero (or NaN): adding both keeps the memory order's sum
            (local.set $t (i32.add (local.get $totals) (i32.shl (local.get $c) (i32.const 1))))
            (v128.store (local.get $t) (f64x2.add (f64x2.add (v128.load (local.get $t))
              (f64x2.promote_low_f32x4 (local.get $a))) (f64x2.promote_low_f32x4 (local.get $b))))
            (v128.store offset=16 (local.get $t) (f64x2.add (f64x2.add (v128.load offset=16 (local.get $t))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a) (local.get $a))))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $b) (local.get $b)))))
            (br_if $chanLoop (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 16))) (local.get $cBytes))))
          (local.set $d (i32.add (local.get $d) (i32.shl (local.get $cBytes) (i32.const 1))))
          (br_if $colLoop (i32.lt_u (local.tee $ow (i32.add (local.get $ow) (i32.const 1))) (local.get $outW))))
        (br_if $halfLoop (i32.lt_u (local.tee $half (i32.add (local.get $half) (i32.const 1))) (i32.const 2))))
      (br_if $rowLoop (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows)))))

  ;; float64 totals to float32 (round to nearest), $channels divisible by 4.
  (func (export "round_totals") (param $totals i32) (param $out i32) (param $channels i32)
    (local $i i32)
    (if (i32.eqz (local.get $channels)) (then (return)))
    (loop $l
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (v128.load (i32.add (local.get $totals) (i32.shl (local.get $i) (i32.const 3)))))
          (f32x4.demote_f64x2_zero (v128.load offset=16 (i32.add (local.get $totals) (i32.shl (local.get $i) (i32.const 3)))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4))) (local.get $channels)))))

  ;; Filter gradient of a stride-1 convolution with one input channel:
  ;; out[ky, kx, 0, co] = sum over n, oh, ow of xp[n, oh + ky, ow + kx] * dy[n, oh, ow, co],
  ;; xp the zero-padded input [batch, outH + kh - 1, outW + kw - 1], dy [batch, outH, outW, cout],
  ;; cout divisible by 16. One image at a time (its dy stays in cache across
  ;; the kh * kw * cout / 16 passes), sixteen output channels (four float32
  ;; accumulators, kept in out between images) per pass; sums in pixel order.
  (func (export "filter_grad_c1")
    (param $xp i32) (param $dy i32) (param $out i32)
    (param $batch i32) (param $outH i32) (param $outW i32) (param $kh i32) (param $kw i32) (param $cout i32)
    (local $coBytes i32) (local $pw i32) (local $imageBytes i32) (local $dyImageBytes i32) (local $cb i32) (local $ky i32) (local $kx i32)
    (local $n i32) (local $oh i32) (local $ow i32) (local $xrow i32) (local $d i32) (local $xv v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $o i32)
    (local.set $coBytes (i32.shl (local.get $cout) (i32.const 2)))
    (local.set $pw (i32.sub (i32.add (local.get $outW) (local.get $kw)) (i32.const 1)))
    (local.set $imageBytes (i32.shl (i32.mul (local.get $pw) (i32.sub (i32.add (local.get $outH) (local.get $kh)) (i32.const 1))) (i32.const 2)))
    (local.set $dyImageBytes (i32.mul (i32.mul (local.get $outH) (local.get $outW)) (local.get $coBytes)))
    (if (i32.eqz (i32.mul (i32.mul (i32.mul (local.get $batch) (local.get $cout)) (i32.mul (local.get $outH) (local.get $outW)))
                          (i32.mul (local.get $kh) (local.get $kw)))) (then (return)))
    (loop $nLoop
      (local.set $cb (i32.const 0))
      (loop $cbLoop
        (local.set $ky (i32.const 0))
        (loop $kyLoop
          (local.set $kx (i32.const 0))
          (loop $kxLoop
            ;; out[ky, kx, 0, cb..cb+15]: zero for the first image, else the sums so far
            (local.set $o (i32.add (i32.add (local.get $out) (local.get $cb))
              (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $coBytes))))
            (if (i32.eqz (local.get $n))
              (then
                (local.set $a0 (v128.const f32x4 0 0 0 0))
                (local.set $a1 (v128.const f32x4 0 0 0 0))
                (local.set $a2 (v128.const f32x4 0 0 0 0))
                (local.set $a3 (v128.const f32x4 0 0 0 0)))
              (else
                (local.set $a0 (v128.load (local.get $o)))
                (local.set $a1 (v128.load offset=16 (local.get $o)))
                (local.set $a2 (v128.load offset=32 (local.get $o)))
                (local.set $a3 (v128.load offset=48 (local.get $o)))))
            (local.set $d (i32.add (i32.add (local.get $dy) (i32.mul (local.get $n) (local.get $dyImageBytes))) (local.get $cb)))
            (local.set $oh (i32.const 0))
            (loop $ohLoop
              ;; xp[n, oh + ky, kx]
              (local.set $xrow (i32.add (i32.add (local.get $xp) (i32.mul (local.get $n) (local.get $imageBytes)))
                (i32.shl (i32.add (i32.mul (i32.add (local.get $oh) (local.get $ky)) (local.get $pw)) (local.get $kx)) (i32.const 2))))
              (local.set $ow (i32.const 0))
              (loop $owLoop
                (local.set $xv (v128.load32_splat (local.get $xrow)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load (local.get $d)))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $d)))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $d)))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load offset=48 (local.get $d)))))
                (local.set $xrow (i32.add (local.get $xrow) (i32.const 4)))
                (local.set $d (i32.add (local.get $d) (local.get $coBytes)))
                (br_if $owLoop (i32.lt_u (local.tee $ow (i32.add (local.get $ow) (i32.const 1))) (local.get $outW))))
              (br_if $ohLoop (i32.lt_u (local.tee $oh (i32.add (local.get $oh) (i32.const 1))) (local.get $outH))))
            (v128.store (local.get $o) (local.get $a0))
            (v128.store offset=16 (local.get $o) (local.get $a1))
            (v128.store offset=32 (local.get $o) (local.get $a2))
            (v128.store offset=48 (local.get $o) (local.get $a3))
            (br_if $kxLoop (i32.lt_u (local.tee $kx (i32.add (local.get $kx) (i32.const 1))) (local.get $kw))))
          (br_if $kyLoop (i32.lt_u (local.tee $ky (i32.add (local.get $ky) (i32.const 1))) (local.get $kh))))
        (br_if $cbLoop (i32.lt_u (local.tee $cb (i32.add (local.get $cb) (i32.const 64))) (local.get $coBytes))))
      (br_if $nLoop (i32.lt_u (local.tee $n (i32.add (local.get $n) (i32.const 1))) (local.get $batch)))))

  ;; ---- Routed gradients of a conv block: a stride-1 convolution, then bias,
  ;; relu and the 2x2 max pool above. Each pooled output's gradient reaches one
  ;; convolution output (its window's routed slot), so three quarters of the
  ;; dense gradients' terms are zeros; these sum the routed terms only.

  ;; One image's routed gradients as lists of entries (v float32, payload i32),
  ;; in pooled order (row, column, channel k): v = dy + 0 where relu's step at
  ;; the routed slot is 1, (dy + 0) * 0 where it is 0, NaN when the window has
  ;; a NaN pre-activation (at the routed slot, else slot 0). Entries with v = 0
  ;; add nothing and are left out (a NaN is kept). For the convolution output
  ;; (row, col) the entry goes to list k * listK + row * listRow + col * listCol
  ;; (each `capacity` entries long, its count at counts[list], zeroed here for
  ;; $lists_n lists), payload payBase + k * payK + row * payRow + col * payCol.
  ;; With $totals non-zero, every v is also added to the float64 totals[k].
  (func (export "route_image")
    (param $dy i32) (param $code i32) (param $ph i32) (param $pw i32) (param $cout i32)
    (param $lists i32) (param $counts i32) (param $lists_n i32) (param $capacity i32)
    (param $listK i32) (param $listRow i32) (param $listCol i32)
    (param $payBase i32) (param $payK i32) (param $payRow i32) (param $payCol i32) (param $totals i32)
    (local $r i32) (local $col i32) (local $k i32) (local $c i32) (local $slot i32) (local $row i32) (local $column i32)
    (local $list i32) (local $n i32) (local $e i32) (local $t i32) (local $v f32)
    (memory.fill (local.get $counts) (i32.const 0) (i32.shl (local.get $lists_n) (i32.const 2)))
    (if (i32.eqz (i32.mul (i32.mul (local.get $ph) (local.get $pw)) (local.get $cout))) (then (return)))
    (loop $rowLoop
      (local.set $col (i32.const 0))
      (loop $colLoop
        (local.set $k (i32.const 0))
        (loop $kLoop
          (local.set $c (i32.load (local.get $code)))
          (if (i32.shr_u (local.get $c) (i32.const 7))
            (then
              (local.set $v (f32.const nan))
              (local.set $slot (select (i32.and (local.get $c) (i32.const 3)) (i32.const 0) (i32.and (local.get $c) (i32.const 4)))))
            (else
              (local.set $slot (i32.and (local.get $c) (i32.const 3)))
              (local.set $v (f32.add (f32.load (local.get $dy)) (f32.const 0)))
              (if (i32.eqz (i32.and (i32.shr_u (local.get $c) (i32.add (local.get $slot) (i32.const 3))) (i32.const 1)))
                (then (local.set $v (f32.mul (local.get $v) (f32.const 0)))))
              (if (i32.eqz (i32.and (local.get $c) (i32.const 4))) (then (local.set $v (f32.const 0))))))
          (if (local.get $totals)
            (then
              (local.set $t (i32.add (local.get $totals) (i32.shl (local.get $k) (i32.const 3))))
              (f64.store (local.get $t) (f64.add (f64.load (local.get $t)) (f64.promote_f32 (local.get $v))))))
          (if (f32.ne (local.get $v) (f32.const 0))
            (then
              (local.set $row (i32.add (i32.shl (local.get $r) (i32.const 1)) (i32.shr_u (local.get $slot) (i32.const 1))))
              (local.set $column (i32.add (i32.shl (local.get $col) (i32.const 1)) (i32.and (local.get $slot) (i32.const 1))))
              (local.set $list (i32.add (i32.mul (local.get $k) (local.get $listK))
                (i32.add (i32.mul (local.get $row) (local.get $listRow)) (i32.mul (local.get $column) (local.get $listCol)))))
              (local.set $n (i32.load (i32.add (local.get $counts) (i32.shl (local.get $list) (i32.const 2)))))
              (local.set $e (i32.add (local.get $lists)
                (i32.shl (i32.add (i32.mul (local.get $list) (local.get $capacity)) (local.get $n)) (i32.const 3))))
              (f32.store (local.get $e) (local.get $v))
              (i32.store offset=4 (local.get $e) (i32.add (i32.add (local.get $payBase) (i32.mul (local.get $k) (local.get $payK)))
                (i32.add (i32.mul (local.get $row) (local.get $payRow)) (i32.mul (local.get $column) (local.get $payCol)))))
              (i32.store (i32.add (local.get $counts) (i32.shl (local.get $list) (i32.const 2))) (i32.add (local.get $n) (i32.const 1)))))
          (local.set $code (i32.add (local.get $code) (i32.const 4)))
          (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
          (br_if $kLoop (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $cout))))
        (br_if $colLoop (i32.lt_u (local.tee $col (i32.add (local.get $col) (i32.const 1))) (local.get $pw))))
      (br_if $rowLoop (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $ph)))))

  ;; One image [h, w, cin] into the interior of the zero-bordered padded image [hp, wp, cin] at (top, left).
  (func (export "pad_image")
    (param $x i32) (param $pad i32) (param $h i32) (param $w i32) (param $cin i32) (param $top i32) (param $left i32) (param $wp i32)
    (local $r i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (i32.mul (local.get $w) (local.get $cin)) (i32.const 2)))
    (if (i32.eqz (i32.mul (local.get $h) (local.get $rowBytes))) (then (return)))
    (loop $rowLoop
      (memory.copy
        (i32.add (local.get $pad) (i32.shl (i32.mul (i32.add (i32.mul (i32.add (local.get $r) (local.get $top)) (local.get $wp)) (local.get $left)) (local.get $cin)) (i32.const 2)))
        (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowBytes)))
        (local.get $rowBytes))
      (br_if $rowLoop (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $h)))))

  ;; Filter-gradient sums of one image, added to $sums [cout][kh][kw][cin]
  ;; (float32): sums[k, i, j, :] += v * image[row + i, col + j, :] for every
  ;; entry of list k (route_image with payload the address of image[row, col, 0]),
  ;; in list order; 32 channels (eight accumulators in registers across the
  ;; list) at a time, then 4. cin divisible by 4.
  (func (export "filter_taps")
    (param $lists i32) (param $counts i32) (param $capacity i32) (param $sums i32)
    (param $cout i32) (param $kh i32) (param $kw i32) (param $wp i32) (param $cin i32)
    (local $cBytes i32) (local $k i32) (local $i i32) (local $j i32) (local $c i32) (local $list i32) (local $end i32)
    (local $e i32) (local $tap i32) (local $s i32) (local $p i32) (local $v v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $cBytes (i32.shl (local.get $cin) (i32.const 2)))
    (if (i32.eqz (i32.mul (i32.mul (local.get $cout) (local.get $cin)) (i32.mul (local.get $kh) (local.get $kw)))) (then (return)))
    (loop $kLoop
      (local.set $list (i32.add (local.get $lists) (i32.shl (i32.mul (local.get $k) (local.get $capacity)) (i32.const 3))))
      (local.set $end (i32.add (local.get $list) (i32.shl (i32.load (i32.add (local.get $counts) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 3))))
      (local.set $s (i32.add (local.get $sums) (i32.mul (i32.mul (local.get $k) (i32.mul (local.get $kh) (local.get $kw))) (local.get $cBytes))))
      (if (i32.gt_u (local.get $end) (local.get $list))
        (then
          (local.set $i (i32.const 0))
          (loop $iLoop
            (local.set $j (i32.const 0))
            (loop $jLoop
              (local.set $tap (i32.mul (i32.add (i32.mul (local.get $i) (local.get $wp)) (local.get $j)) (local.get $cBytes)))
              (local.set $c (i32.const 0))
              (block $done32
                (loop $c32
                  (br_if $done32 (i32.gt_u (i32.add (local.get $c) (i32.const 128)) (local.get $cBytes)))
                  (local.set $p (i32.add (local.get $s) (local.get $c)))
                  (local.set $a0 (v128.load (local.get $p)))
                  (local.set $a1 (v128.load offset=16 (local.get $p)))
                  (local.set $a2 (v128.load offset=32 (local.get $p)))
                  (local.set $a3 (v128.load offset=48 (local.get $p)))
                  (local.set $a4 (v128.load offset=64 (local.get $p)))
                  (local.set $a5 (v128.load offset=80 (local.get $p)))
                  (local.set $a6 (v128.load offset=96 (local.get $p)))
                  (local.set $a7 (v128.load offset=112 (local.get $p)))
                  (local.set $e (local.get $list))
                  (loop $e32
                    (local.set $v (v128.load32_splat (local.get $e)))
                    (local.set $p (i32.add (i32.load offset=4 (local.get $e)) (i32.add (local.get $tap) (local.get $c))))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $v) (v128.load (local.get $p)))))
                    (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $v) (v128.load offset=16 (local.get $p)))))
                    (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $v) (v128.load offset=32 (local.get $p)))))
                    (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $v) (v128.load offset=48 (local.get $p)))))
                    (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $v) (v128.load offset=64 (local.get $p)))))
                    (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $v) (v128.load offset=80 (local.get $p)))))
                    (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $v) (v128.load offset=96 (local.get $p)))))
                    (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $v) (v128.load offset=112 (local.get $p)))))
                    (br_if $e32 (i32.lt_u (local.tee $e (i32.add (local.get $e) (i32.const 8))) (local.get $end))))
                  (local.set $p (i32.add (local.get $s) (local.get $c)))
                  (v128.store (local.get $p) (local.get $a0))
                  (v128.store offset=16 (local.get $p) (local.get $a1))
                  (v128.store offset=32 (local.get $p) (local.get $a2))
                  (v128.store offset=48 (local.get $p) (local.get $a3))
                  (v128.store offset=64 (local.get $p) (local.get $a4))
                  (v128.store offset=80 (local.get $p) (local.get $a5))
                  (v128.store offset=96 (local.get $p) (local.get $a6))
                  (v128.store offset=112 (local.get $p) (local.get $a7))
                  (local.set $c (i32.add (local.get $c) (i32.const 128)))
                  (br $c32)))
              (block $done4
                (loop $c4
                  (br_if $done4 (i32.ge_u (local.get $c) (local.get $cBytes)))
                  (local.set $a0 (v128.load (i32.add (local.get $s) (local.get $c))))
                  (local.set $e (local.get $list))
                  (loop $e4
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (local.get $e))
                      (v128.load (i32.add (i32.load offset=4 (local.get $e)) (i32.add (local.get $tap) (local.get $c)))))))
                    (br_if $e4 (i32.lt_u (local.tee $e (i32.add (local.get $e) (i32.const 8))) (local.get $end))))
                  (v128.store (i32.add (local.get $s) (local.get $c)) (local.get $a0))
                  (local.set $c (i32.add (local.get $c) (i32.const 16)))
                  (br $c4)))
              (local.set $s (i32.add (local.get $s) (local.get $cBytes)))
              (br_if $jLoop (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $kw))))
            (br_if $iLoop (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $kh))))))
      (br_if $kLoop (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $cout)))))

  ;; float64 totals[i] += float32 sums[i], then sums[i] = 0, for $count elements (divisible by 4).
  (func (export "add_chunk") (param $sums i32) (param $totals i32) (param $count i32)
    (local $i i32) (local $s v128) (local $t i32)
    (if (i32.eqz (local.get $count)) (then (return)))
    (loop $l
      (local.set $s (v128.load (i32.add (local.get $sums) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $t (i32.add (local.get $totals) (i32.shl (local.get $i) (i32.const 3))))
      (v128.store (local.get $t) (f64x2.add (v128.load (local.get $t)) (f64x2.promote_low_f32x4 (local.get $s))))
      (v128.store offset=16 (local.get $t) (f64x2.add (v128.load offset=16 (local.get $t))
        (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $s) (local.get $s)))))
      (v128.store (i32.add (local.get $sums) (i32.shl (local.get $i) (i32.const 2))) (v128.const i32x4 0 0 0 0))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4))) (local.get $count)))))

  ;; One image's input gradient dx [h, w, cin] (every element written):
  ;; dx[ih, iw, :] = sum over taps (i, j), in order, of the entries routed to
  ;; the convolution output (ih + top - i, iw + left - j) (lists per output
  ;; position, `cout` long, from route_image with payload k * cin * 4), in list
  ;; order, of v * rows[i, j, k, :]; rows is the filter as [kh][kw][cout][cin].
  ;; 32 channels at a time (eight accumulators), then 4. cin divisible by 4.
  (func (export "input_gather")
    (param $lists i32) (param $counts i32) (param $rows i32) (param $dx i32)
    (param $h i32) (param $w i32) (param $cin i32) (param $cout i32) (param $kh i32) (param $kw i32)
    (param $top i32) (param $left i32) (param $oh i32) (param $ow i32)
    (local $cBytes i32) (local $tapBytes i32) (local $ih i32) (local $iw i32) (local $c i32) (local $step i32) (local $i i32) (local $j i32)
    (local $r i32) (local $q i32) (local $pos i32) (local $e i32) (local $end i32) (local $tap i32) (local $p i32) (local $v v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $cBytes (i32.shl (local.get $cin) (i32.const 2)))
    (local.set $tapBytes (i32.mul (local.get $cout) (local.get $cBytes)))
    (if (i32.eqz (i32.mul (i32.mul (i32.mul (local.get $h) (local.get $w)) (local.get $cin)) (i32.mul (local.get $kh) (local.get $kw))))
      (then (return)))
    (loop $ihLoop
      (local.set $iw (i32.const 0))
      (loop $iwLoop
        (local.set $c (i32.const 0))
        (loop $cLoop
          ;; 32 channels while they fit, else 4 (a0 only: the other accumulators' sums are dropped)
          (local.set $step (select (i32.const 128) (i32.const 16) (i32.le_u (i32.add (local.get $c) (i32.const 128)) (local.get $cBytes))))
          (local.set $a0 (v128.const i32x4 0 0 0 0))
          (local.set $a1 (v128.const i32x4 0 0 0 0))
          (local.set $a2 (v128.const i32x4 0 0 0 0))
          (local.set $a3 (v128.const i32x4 0 0 0 0))
          (local.set $a4 (v128.const i32x4 0 0 0 0))
          (local.set $a5 (v128.const i32x4 0 0 0 0))
          (local.set $a6 (v128.const i32x4 0 0 0 0))
          (local.set $a7 (v128.const i32x4 0 0 0 0))
          (local.set $i (i32.const 0))
          (loop $iLoop
            (local.set $r (i32.sub (i32.add (local.get $ih) (local.get $top)) (local.get $i)))
            (if (i32.lt_u (local.get $r) (local.get $oh))
              (then
                (local.set $j (i32.const 0))
                (loop $jLoop
                  (local.set $q (i32.sub (i32.add (local.get $iw) (local.get $left)) (local.get $j)))
                  (if (i32.lt_u (local.get $q) (local.get $ow))
                    (then
                      (local.set $pos (i32.add (i32.mul (local.get $r) (local.get $ow)) (local.get $q)))
                      (local.set $e (i32.add (local.get $lists) (i32.shl (i32.mul (local.get $pos) (local.get $cout)) (i32.const 3))))
                      (local.set $end (i32.add (local.get $e) (i32.shl (i32.load (i32.add (local.get $counts) (i32.shl (local.get $pos) (i32.const 2)))) (i32.const 3))))
                      (local.set $tap (i32.add (i32.add (local.get $rows) (local.get $c))
                        (i32.mul (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j)) (local.get $tapBytes))))
                      (if (i32.lt_u (local.get $e) (local.get $end))
                        (then
                          (if (i32.eq (local.get $step) (i32.const 128))
                            (then
                              (loop $e32
                                (local.set $v (v128.load32_splat (local.get $e)))
                                (local.set $p (i32.add (local.get $tap) (i32.load offset=4 (local.get $e))))
                                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $v) (v128.load (local.get $p)))))
                                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $v) (v128.load offset=16 (local.get $p)))))
                                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $v) (v128.load offset=32 (local.get $p)))))
                                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $v) (v128.load offset=48 (local.get $p)))))
                                (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $v) (v128.load offset=64 (local.get $p)))))
                                (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $v) (v128.load offset=80 (local.get $p)))))
                                (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $v) (v128.load offset=96 (local.get $p)))))
                                (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $v) (v128.load offset=112 (local.get $p)))))
                                (br_if $e32 (i32.lt_u (local.tee $e (i32.add (local.get $e) (i32.const 8))) (local.get $end)))))
                            (else
                              (loop $e4
                                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (local.get $e))
                                  (v128.load (i32.add (local.get $tap) (i32.load offset=4 (local.get $e)))))))
                                (br_if $e4 (i32.lt_u (local.tee $e (i32.add (local.get $e) (i32.const 8))) (local.get $end))))))))))
                  (br_if $jLoop (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $kw))))))
            (br_if $iLoop (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $kh))))
          (v128.store (local.get $dx) (local.get $a0))
          (if (i32.eq (local.get $step) (i32.const 128))
            (then
              (v128.store offset=16 (local.get $dx) (local.get $a1))
              (v128.store offset=32 (local.get $dx) (local.get $a2))
              (v128.store offset=48 (local.get $dx) (local.get $a3))
              (v128.store offset=64 (local.get $dx) (local.get $a4))
              (v128.store offset=80 (local.get $dx) (local.get $a5))
              (v128.store offset=96 (local.get $dx) (local.get $a6))
              (v128.store offset=112 (local.get $dx) (local.get $a7))))
          (local.set $dx (i32.add (local.get $dx) (local.get $step)))
          (br_if $cLoop (i32.lt_u (local.tee $c (i32.add (local.get $c) (local.get $step))) (local.get $cBytes))))
        (br_if $iwLoop (i32.lt_u (local.tee $iw (i32.add (local.get $iw) (i32.const 1))) (local.get $w))))
      (br_if $ihLoop (i32.lt_u (local.tee $ih (i32.add (local.get $ih) (i32.const 1))) (local.get $h)))))
)
