/**
 * Natural log of a float32 from its bit pattern, for the fold's inner loop
 * (JS here, the same arithmetic in fold-kernel.wat): Math.log costs about
 * 20 ns in V8, which alone caps folding near 0.2 GB/s. Pure.
 *
 * The mantissa is rounded to the nearest of the points 1 + j/1024,
 * j = 0..1024, so p = 2^e * point_j * (1 + r) with |r| <= 2^-11, and
 * ln p = e ln 2 + ln(point_j) + ln(1 + r), the last as the cubic
 * r + r^2 (r/3 - 1/2) (truncation below r^4/4 <= 1.4e-14). The offset from
 * the point is the low 13 bits of the float, sign-extended.
 */

export const TABLE_BITS = 10;
const STEPS = 1 << TABLE_BITS;
/** Points 1 + j/1024 for j = 0..1024 (the last is 2: mantissas just below 2 round up to it). */
const TABLE_SIZE = STEPS + 1;
export const LN2 = Math.LN2;
export const ONE_THIRD = 0.3333333333333333;

/** ln(1 + j/1024), j = 0..1024. */
export const LOG_POINT = new Float64Array(TABLE_SIZE);
/** 2^-23 / (1 + j/1024): turns the integer offset from the point into r. */
export const OFFSET_SCALE = new Float64Array(TABLE_SIZE);

for (let j = 0; j < TABLE_SIZE; j++) {
  const point = 1 + j / STEPS;
  LOG_POINT[j] = Math.log(point);
  OFFSET_SCALE[j] = 2 ** -23 / point;
}

/**
 * ln(x) for the positive float32 whose bits are `bits` (as a signed int32).
 * Finite for every pattern; meaningful for positive normal floats (zero
 * gives -127 ln 2, so 0 * ln 0 is 0 without a branch).
 */
export function logOfFloat32Bits(bits: number): number {
  const j = ((bits & 0x7fffff) + 0x1000) >>> 13;
  const r = ((bits << 19) >> 19) * OFFSET_SCALE[j]!;
  return ((bits >>> 23) - 127) * LN2 + LOG_POINT[j]! + (r + r * r * (r * ONE_THIRD - 0.5));
}
