/**
 * Seeded 32-bit hashes of global sample indices. Pure. Used for the random
 * acquisition score and for the tie-break of equal scores; both depend only
 * on (seed, global index), never on how the pool was sharded.
 */

/** Salts keep the random-score stream and the tie-break stream independent. */
export const RANDOM_SCORE_SALT = 0x5eed0001;
export const TIE_BREAK_SALT = 0x5eed0002;

/** Avalanche finaliser on 32 bits (xor-shift / multiply rounds). */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x21f0aaad);
  x ^= x >>> 15;
  x = Math.imul(x, 0x735a2d97);
  x ^= x >>> 15;
  return x >>> 0;
}

/** Folds a seed (any safe integer) and a salt into one 32-bit stream key. */
export function streamKey(seed: number, salt: number): number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const low = seed >>> 0;
  const high = Math.floor(seed / 4294967296) >>> 0;
  return mix32(mix32(low ^ salt) ^ Math.imul(high, 0x9e3779b9) ^ 0x85ebca6b);
}

/** Hash of one global index under a stream key; uniform over 32 bits. */
export function hashIndex(key: number, index: number): number {
  return mix32(key ^ mix32(index + 0x6a09e667));
}

/** A uniform score in [0, 1) with 24 bits, exactly representable as float32. */
export function randomUnit(key: number, index: number): number {
  return (hashIndex(key, index) >>> 8) * 5.9604644775390625e-8;
}
