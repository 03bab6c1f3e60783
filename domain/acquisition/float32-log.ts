/**
 * p ln p of a float32 p in float32 arithmetic, as the fold computes it (JS
 * here, the same operations in fold-kernel.wat, which runs them on four
 * rows at once): Math.log costs about 20 ns in V8, and a float64 log or a
 * table lookup per value caps the SIMD fold near 0.7 GB/s. Pure.
 *
 * p = 2^k m with m in [sqrt(1/2), sqrt(2)), both from the bits:
 * k = (bits - bits(sqrt(1/2))) >> 23 and m - 1 exactly. Then
 * ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| <= 0.1716, written as
 * 2s + 2s w Q(w), w = s^2, where Q is a degree-2 Chebyshev fit of
 * (atanh(s)/s - 1)/w on [0, 0.02944] (fit error below 1e-9 in ln m).
 * p ln p = ln 2 * (p k) + p ln m: the fold sums the two parts separately.
 *
 * Every step is one float32 operation (Math.fround after each in JS; an
 * operation on two float32 values done in float64 and rounded once is the
 * float32 result exactly), so JS and wasm agree to the bit. The error of
 * p ln p is a few float32 ulps (the test measures it); zero gives k = -127,
 * m = 1, so 0 * ln 0 is 0 without a branch. A subnormal p (below 2^-126) is
 * read as if it were normal: its p ln p is under 1e-36 either way, so only
 * a row whose whole sum is subnormal gets a wrong (renormalised) entropy.
 */

const fround = Math.fround;

/** Bits of float32(sqrt(1/2)): subtracting them puts m in [sqrt(1/2), sqrt(2)). */
export const SQRT_HALF_BITS = 0x3f3504f3;
/** Mantissa bits of sqrt(2): mantissas at or above it belong to m in [sqrt(1/2), 1). */
const SQRT_TWO_MANTISSA = 0x3504f3;
export const Q0 = fround(0.33333343);
export const Q1 = fround(0.19994389);
export const Q2 = fround(0.14790023);

/** k of p = 2^k m (int32 arithmetic, wrapping like the wasm). */
export function float32Exponent(bits: number): number {
  return (bits - SQRT_HALF_BITS) >> 23;
}

/** p ln m in float32, p the float32 value whose bits are `bits`. */
export function pLogMantissa(p: number, bits: number): number {
  const mantissa = bits & 0x7fffff;
  // m - 1, exact: m = 1 + mantissa 2^-23, or half that when the mantissa is at or past sqrt(2)'s.
  const f = mantissa < SQRT_TWO_MANTISSA ? mantissa * 2 ** -23 : mantissa * 2 ** -24 - 0.5;
  const s = fround(f / fround(f + 2));
  const w = fround(s * s);
  const ph = fround(p * fround(s + s));
  const q = fround(fround(Q0 + fround(w * Q1)) + fround(fround(w * w) * Q2));
  return fround(ph + fround(ph * fround(w * q)));
}

/** p k in float32. */
export function pExponent(p: number, bits: number): number {
  return fround(p * float32Exponent(bits));
}

/** p ln p as the fold gets it for a row holding only p (float64 from the two float32 parts). */
export function pLogPOfFloat32(bits: number): number {
  const view = new Int32Array([bits]);
  const p = new Float32Array(view.buffer)[0]!;
  return pExponent(p, bits) * Math.LN2 + pLogMantissa(p, bits);
}
