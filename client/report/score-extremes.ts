/**
 * The few highest and lowest scores of a stream of score shards, with their
 * pool indices: what the report's gallery shows (the most and least uncertain
 * candidates of a round). Ties keep the lower index. Pure; O(n) per side.
 */

export interface ScoredIndex {
  index: number;
  score: number;
}

export interface ScoreExtremes {
  /** Highest first. */
  most: ScoredIndex[];
  /** Lowest first. */
  least: ScoredIndex[];
}

export interface ExtremesCollector {
  add(scores: ArrayLike<number>, globalStart: number, exclude?: ReadonlySet<number>): void;
  result(): ScoreExtremes;
}

/** Keeps the `perSide` highest and lowest finite scores seen, skipping excluded indices. */
export function collectExtremes(perSide: number): ExtremesCollector {
  if (!Number.isInteger(perSide) || perSide < 1)
    throw new RangeError(`perSide must be a positive integer, got ${perSide}`);
  const most: ScoredIndex[] = [];
  const least: ScoredIndex[] = [];
  // Sorted insertion into short lists: perSide is a handful.
  const insert = (list: ScoredIndex[], item: ScoredIndex, before: (a: ScoredIndex, b: ScoredIndex) => boolean) => {
    if (list.length === perSide && !before(item, list[list.length - 1]!)) return;
    let at = list.length;
    while (at > 0 && before(item, list[at - 1]!)) at--;
    list.splice(at, 0, item);
    if (list.length > perSide) list.pop();
  };
  const higher = (a: ScoredIndex, b: ScoredIndex) => a.score > b.score || (a.score === b.score && a.index < b.index);
  const lower = (a: ScoredIndex, b: ScoredIndex) => a.score < b.score || (a.score === b.score && a.index < b.index);
  return {
    add(scores, globalStart, exclude) {
      for (let i = 0; i < scores.length; i++) {
        const score = scores[i]!;
        const index = globalStart + i;
        if (!Number.isFinite(score) || exclude?.has(index)) continue;
        insert(most, { index, score }, higher);
        insert(least, { index, score }, lower);
      }
    },
    result: () => ({ most: [...most], least: [...least] }),
  };
}
