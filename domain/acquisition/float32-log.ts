/**
 * p ln p of a float32 p in float32 arithmetic, as the fold computes it (JS
 * here, the same operations in kernels/fold/fold-kernel.wat on four rows at
 * once), so that JS and wasm agree to the bit without a float64 log per
 * value. Pure. The approximation (exponent split, atanh series, Chebyshev
 * fit), its error and its handling of 0 and subnormals: docs/kernels.md,
 * "p ln p in float32".
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
