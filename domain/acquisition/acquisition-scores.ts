/**
 * Acquisition scores per sample from an ensemble accumulator (formulas in
 * docs/architecture.md, "Acquisition functions"); higher = acquire first. Pure.
 */
import { FailureType, TypedTaskError } from '../../contracts/failures';
import type { acquisitionFunctions } from '../../contracts/config';
import type { EnsembleAccumulator } from './ensemble-accumulator';
import { RANDOM_SCORE_SALT, randomUnit, streamKey } from '../../contracts/seeded-hash';
import { reduceLocationScores, type LocationReduction } from './location-reduction';

export type AcquisitionFunction = (typeof acquisitionFunctions)[number];

export interface ScoreOptions {
  /** Seed of the random function; the score of a sample depends only on it and the global index. */
  seed?: number;
  /** How per-location scores become one per sample when locations > 1 (default mean). */
  reduction?: LocationReduction;
}

/** Random scores for `count` samples starting at global index `globalStart`. */
export function randomScores(globalStart: number, count: number, seed: number): Float32Array {
  const key = streamKey(seed, RANDOM_SCORE_SALT);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = randomUnit(key, globalStart + i);
  return out;
}

/** One score per sample (Float32Array of acc.samples). */
export function scoreAccumulator(
  acc: EnsembleAccumulator,
  fn: AcquisitionFunction,
  options: ScoreOptions = {},
): Float32Array {
  if (fn === 'random') {
    if (options.seed === undefined)
      throw new TypedTaskError(FailureType.InvalidConfig, 'the random acquisition function needs a seed');
    return randomScores(acc.globalStart, acc.samples, options.seed);
  }
  if (acc.poisoned) throw new Error(`accumulator is unusable after a failed fold (${acc.poisoned})`);
  if (acc.memberCount === 0) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `no ensemble member was folded into the shard starting at global sample ${acc.globalStart}; score after folding at least one`,
    );
  }
  const perRow = scoreRows(acc, fn);
  return acc.locations === 1
    ? perRow
    : reduceLocationScores(perRow, acc.samples, acc.locations, options.reduction ?? 'mean');
}

function scoreRows(acc: EnsembleAccumulator, fn: Exclude<AcquisitionFunction, 'random'>): Float32Array {
  const C = acc.classes;
  const rows = acc.samples * acc.locations;
  const K = acc.memberCount;
  const invK = 1 / K;
  const sums = acc.probabilitySums;
  const out = new Float32Array(rows);
  switch (fn) {
    case 'entropy':
    case 'mutual-information': {
      const maxEntropy = Math.log(C);
      const ent = acc.entropySums;
      for (let row = 0, base = 0; row < rows; row++, base += C) {
        let h = 0;
        for (let c = 0; c < C; c++) {
          const p = sums[base + c]! * invK;
          if (p > 0) h -= p * Math.log(p);
        }
        // Clamp float noise to the bounds that hold exactly: 0 <= MI <= H <= ln C.
        h = h < 0 ? 0 : h > maxEntropy ? maxEntropy : h;
        if (fn === 'entropy') {
          out[row] = h;
        } else {
          const mi = h - ent[row]! * invK;
          out[row] = mi < 0 ? 0 : mi > h ? h : mi;
        }
      }
      return out;
    }
    case 'variation-ratios': {
      const votes = acc.votes;
      for (let row = 0, base = 0; row < rows; row++, base += C) {
        let modal = 0;
        for (let c = 0; c < C; c++) if (votes[base + c]! > modal) modal = votes[base + c]!;
        out[row] = 1 - modal * invK;
      }
      return out;
    }
    case 'margin':
    case 'least-confidence': {
      for (let row = 0, base = 0; row < rows; row++, base += C) {
        let top1 = 0;
        let top2 = 0;
        for (let c = 0; c < C; c++) {
          const s = sums[base + c]!;
          if (s > top1) {
            top2 = top1;
            top1 = s;
          } else if (s > top2) {
            top2 = s;
          }
        }
        const score = fn === 'margin' ? 1 - (top1 - top2) * invK : 1 - top1 * invK;
        out[row] = score < 0 ? 0 : score > 1 ? 1 : score;
      }
      return out;
    }
    default: {
      const never: never = fn;
      throw new TypedTaskError(FailureType.InvalidConfig, `unknown acquisition function ${String(never)}`);
    }
  }
}
