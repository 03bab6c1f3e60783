/**
 * Every seeded hash and random stream winnow uses, in one place: the
 * mulberry32 PRNG and shuffles (training order, augmentation), seed mixing
 * (one seed per member, shard, tie-break), and the 32-bit index hashes behind
 * random scores and tie-breaks. Pure; shared by workflows, domain and tests.
 */

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes several integers into one 32-bit seed (so seed, epoch and member give independent streams). */
export function mixSeeds(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
  }
  return h >>> 0;
}

/** A seeded permutation of 0..n-1 (Fisher-Yates). */
export function seededPermutation(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  const rand = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

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
