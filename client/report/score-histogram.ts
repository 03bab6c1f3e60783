/**
 * Fixed-range histograms of acquisition scores, filled shard by shard so a
 * pool of any size costs one shard's scores in memory. Pure.
 *
 * Bin i covers [edge(i), edge(i + 1)); the last bin also holds the range's
 * upper end. Finite values outside the range land in the nearest edge bin
 * and are counted in `clamped` (float32 rounding can put an entropy a hair
 * above ln C); NaN and infinities are counted in `nonFinite` only.
 */
import type { AcquisitionFunction } from '../../domain/acquisition/acquisition-scores';

export interface ScoreRange {
  min: number;
  max: number;
}

export interface ScoreHistogram {
  range: ScoreRange;
  counts: number[];
  /** Finite values placed in bin 0 or the last bin although outside the range. */
  clamped: number;
  nonFinite: number;
  /** Pool samples skipped because they were already in the round's subset. */
  excluded: number;
}

/** Lower edge of bin `i` (i = bins gives the upper end of the range). */
export function binEdge(range: ScoreRange, bins: number, i: number): number {
  if (i <= 0) return range.min;
  if (i >= bins) return range.max;
  return range.min + ((range.max - range.min) * i) / bins;
}

/** The bin of a finite value; values outside the range go to the nearest edge bin. */
export function binIndex(range: ScoreRange, bins: number, value: number): number {
  if (value <= range.min) return 0;
  if (value >= range.max) return bins - 1;
  let i = Math.min(bins - 1, Math.max(0, Math.floor(((value - range.min) / (range.max - range.min)) * bins)));
  // The division can round across an edge; binEdge is the single definition of the edges.
  while (i > 0 && value < binEdge(range, bins, i)) i--;
  while (i < bins - 1 && value >= binEdge(range, bins, i + 1)) i++;
  return i;
}

export function createHistogram(range: ScoreRange, bins: number): ScoreHistogram {
  if (!Number.isInteger(bins) || bins < 1)
    throw new RangeError(`a histogram needs a positive whole number of bins, got ${bins}`);
  if (!(Number.isFinite(range.min) && Number.isFinite(range.max) && range.max > range.min)) {
    throw new RangeError(`histogram range [${range.min}, ${range.max}] must be finite with max > min`);
  }
  return { range: { ...range }, counts: new Array<number>(bins).fill(0), clamped: 0, nonFinite: 0, excluded: 0 };
}

/**
 * Adds the scores of one shard (pool indices globalStart..) to `histogram`,
 * skipping the pool indices listed in `exclude` (ascending).
 */
export function addScores(
  histogram: ScoreHistogram,
  scores: ArrayLike<number>,
  globalStart = 0,
  exclude?: ArrayLike<number>,
): void {
  const { range, counts } = histogram;
  const bins = counts.length;
  let skip = exclude ? lowerBound(exclude, globalStart) : 0;
  for (let i = 0; i < scores.length; i++) {
    if (exclude && skip < exclude.length && exclude[skip] === globalStart + i) {
      skip++;
      histogram.excluded++;
      continue;
    }
    const v = scores[i]!;
    if (!Number.isFinite(v)) {
      histogram.nonFinite++;
      continue;
    }
    if (v < range.min || v > range.max) histogram.clamped++;
    counts[binIndex(range, bins, v)]!++;
  }
}

/** Running min and max of the finite scores seen, for the first pass when no range is known. */
export interface ObservedRange {
  min: number;
  max: number;
  finite: number;
}

export function emptyObservedRange(): ObservedRange {
  return { min: Infinity, max: -Infinity, finite: 0 };
}

export function observeScores(
  seen: ObservedRange,
  scores: ArrayLike<number>,
  globalStart = 0,
  exclude?: ArrayLike<number>,
): void {
  let skip = exclude ? lowerBound(exclude, globalStart) : 0;
  for (let i = 0; i < scores.length; i++) {
    if (exclude && skip < exclude.length && exclude[skip] === globalStart + i) {
      skip++;
      continue;
    }
    const v = scores[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < seen.min) seen.min = v;
    if (v > seen.max) seen.max = v;
    seen.finite++;
  }
}

/** A usable histogram range from observed extremes: widened around a single value, [0, 1] when nothing was seen. */
export function rangeFromObserved(seen: ObservedRange): ScoreRange {
  if (seen.finite === 0) return { min: 0, max: 1 };
  if (seen.max > seen.min) return { min: seen.min, max: seen.max };
  const pad = Math.max(Math.abs(seen.min) * 0.05, 0.5);
  return { min: seen.min - pad, max: seen.max + pad };
}

/**
 * The range an acquisition function's scores always lie in, when it is fixed:
 * margin, least confidence, variation ratios and random in [0, 1]; entropy and
 * mutual information in [0, ln C], known only with the class count C.
 */
export function knownScoreRange(fn: AcquisitionFunction, numClasses?: number): ScoreRange | undefined {
  switch (fn) {
    case 'margin':
    case 'least-confidence':
    case 'variation-ratios':
    case 'random':
      return { min: 0, max: 1 };
    case 'entropy':
    case 'mutual-information':
      return numClasses !== undefined && Number.isInteger(numClasses) && numClasses >= 2
        ? { min: 0, max: Math.log(numClasses) }
        : undefined;
    default: {
      const never: never = fn;
      throw new Error(`unknown acquisition function ${String(never)}`);
    }
  }
}

/** First position in ascending `values` whose value is >= `target`. */
export function lowerBound(values: ArrayLike<number>, target: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
