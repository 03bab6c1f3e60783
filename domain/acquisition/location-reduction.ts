/**
 * Detection-style inputs: a sample's output is a map of locations, each a
 * distribution over classes. Each location is scored like a classification
 * row; the scores of a sample's locations are reduced to one. Pure.
 */
import { FailureType, TypedTaskError } from '../../contracts/failures';

export const locationReductions = ['mean', 'max', 'sum'] as const;
export type LocationReduction = (typeof locationReductions)[number];

/** perLocation: samples x locations scores, row-major. Returns one score per sample. */
export function reduceLocationScores(
  perLocation: Float32Array,
  samples: number,
  locations: number,
  reduction: LocationReduction,
): Float32Array {
  if (!Number.isSafeInteger(locations) || locations < 1 || perLocation.length !== samples * locations) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `expected ${samples} samples x ${locations} locations = ${samples * locations} location scores, got ${perLocation.length}`,
    );
  }
  const out = new Float32Array(samples);
  for (let s = 0, base = 0; s < samples; s++, base += locations) {
    if (reduction === 'max') {
      let best = -Infinity;
      for (let l = 0; l < locations; l++) if (perLocation[base + l]! > best) best = perLocation[base + l]!;
      out[s] = best;
    } else if (reduction === 'mean' || reduction === 'sum') {
      // Summed in float64: a detection map has hundreds of locations.
      let total = 0;
      for (let l = 0; l < locations; l++) total += perLocation[base + l]!;
      out[s] = reduction === 'mean' ? total / locations : total;
    } else {
      throw new TypedTaskError(
        FailureType.InvalidConfig,
        `unknown location reduction "${String(reduction)}"; use one of ${locationReductions.join(', ')}`,
      );
    }
  }
  return out;
}

/**
 * Per-class sigmoid maps (samples x locations x classes, each value the
 * probability that class is present) as two-class distributions [p, 1 - p],
 * one row per (location, class): fold the result into an accumulator with
 * classes = 2 and locations = locations x classes to get per-location-and-class
 * entropy / mutual information, as the paper's detection setting does (Chitta et al., arXiv 1905.12737).
 */
export function sigmoidMapsToBinaryDistributions(maps: Float32Array): Float32Array {
  const out = new Float32Array(maps.length * 2);
  for (let i = 0; i < maps.length; i++) {
    const p = maps[i]!;
    out[2 * i] = p;
    out[2 * i + 1] = 1 - p;
  }
  return out;
}
