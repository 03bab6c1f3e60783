/** Pure planning of reads: which contiguous index runs cover a set of wanted indices. */

export interface Run {
  start: number;
  count: number;
}

/**
 * Coalesces ascending indices (duplicates allowed) into runs. Two wanted
 * indices share a run when at most `maxGap` unwanted ones lie between them,
 * since reading through a short gap is cheaper than starting a new read.
 */
export function planRuns(sorted: ArrayLike<number>, maxGap: number): Run[] {
  const runs: Run[] = [];
  let start = -1;
  let end = -1; // exclusive
  for (let i = 0; i < sorted.length; i++) {
    const index = sorted[i];
    if (i > 0 && index < sorted[i - 1]) throw new Error(`planRuns: indices must be ascending (position ${i})`);
    if (start >= 0 && index <= end + maxGap) {
      end = Math.max(end, index + 1);
      continue;
    }
    if (start >= 0) runs.push({ start, count: end - start });
    start = index;
    end = index + 1;
  }
  if (start >= 0) runs.push({ start, count: end - start });
  return runs;
}
