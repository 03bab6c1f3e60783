/**
 * Natural log of a float32 from its bit pattern, for the fold's inner loop:
 * Math.log costs about 20 ns in V8, which alone caps folding near
 * 0.2 GB/s. Exponent from the bits, mantissa from a 1024-entry table plus a
 * cubic in the small remainder; absolute error below 1e-13, far under
 * float32 input precision. Pure.
 */

export const TABLE_BITS = 10;
const TABLE_SIZE = 1 << TABLE_BITS;
export const REMAINDER_BITS = 23 - TABLE_BITS;
export const LN2 = Math.LN2;

/** log of the centre of each mantissa bin: 1 + (j + 0.5) / 1024. */
export const LOG_BIN_CENTRE = new Float64Array(TABLE_SIZE);
/** 2^-23 / centre: turns the integer offset from the centre into a relative remainder. */
export const REMAINDER_SCALE = new Float64Array(TABLE_SIZE);
export const HALF_BIN = 1 << (REMAINDER_BITS - 1);
export const REMAINDER_MASK = (1 << REMAINDER_BITS) - 1;

for (let j = 0; j < TABLE_SIZE; j++) {
  const centre = 1 + (j + 0.5) / TABLE_SIZE;
  LOG_BIN_CENTRE[j] = Math.log(centre);
  REMAINDER_SCALE[j] = 2 ** -23 / centre;
}

/**
 * ln(x) for the positive normal float32 whose bits are `bits` (as a signed
 * int32). Callers skip zero, subnormal and negative patterns themselves.
 */
export function logOfFloat32Bits(bits: number): number {
  const j = (bits >>> REMAINDER_BITS) & (TABLE_SIZE - 1);
  const r = ((bits & REMAINDER_MASK) - HALF_BIN) * REMAINDER_SCALE[j]!;
  return ((bits >>> 23) - 127) * LN2 + LOG_BIN_CENTRE[j]! + r * (1 - r * (0.5 - r * 0.3333333333333333));
}
