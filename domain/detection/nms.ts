/**
 * Per-category greedy non-maximum suppression for one image. Pure.
 *
 * Candidates are taken best score first (equal scores in input order, so
 * the result depends on nothing but the input); one is kept unless it
 * overlaps a kept detection of its own category by more than the IoU
 * threshold. Categories never suppress each other. Sorting is O(n log n);
 * each candidate is compared with the kept detections of its category only,
 * and the walk stops once maxDetections are kept: O(n log n + n * kept).
 */
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { iou } from './boxes';
import type { Detection } from './types';

export interface NmsOptions {
  /** A candidate whose IoU with a kept detection of its category exceeds this is dropped; in [0, 1]. */
  iouThreshold: number;
  /** At most this many detections per image, over all categories (default: no limit). */
  maxDetections?: number;
  /** Candidates scoring below this are dropped first (default: none). */
  scoreThreshold?: number;
}

/** The kept detections, best score first (ties in input order). The input is not changed. */
export function nonMaxSuppression<T extends Detection>(detections: readonly T[], options: NmsOptions): T[] {
  const { iouThreshold, maxDetections = Infinity, scoreThreshold = -Infinity } = options;
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) {
    throw new TypedTaskError(FailureType.InvalidConfig, `NMS iouThreshold must be in [0, 1], got ${iouThreshold}`);
  }
  if (!(maxDetections >= 0) || (Number.isFinite(maxDetections) && !Number.isInteger(maxDetections))) {
    throw new TypedTaskError(
      FailureType.InvalidConfig,
      `NMS maxDetections must be a non-negative integer, got ${maxDetections}`,
    );
  }
  const order: number[] = [];
  detections.forEach((d, i) => {
    if (Number.isNaN(d.score)) {
      throw new TypedTaskError(FailureType.InvalidData, `detection ${i} has a NaN score`);
    }
    if (d.score >= scoreThreshold) order.push(i);
  });
  order.sort((a, b) => detections[b]!.score - detections[a]!.score || a - b);

  const keptByCategory = new Map<number, T[]>();
  const kept: T[] = [];
  for (const index of order) {
    if (kept.length >= maxDetections) break;
    const candidate = detections[index]!;
    let same = keptByCategory.get(candidate.category);
    if (same === undefined) {
      same = [];
      keptByCategory.set(candidate.category, same);
    }
    if (same.some((k) => iou(k, candidate) > iouThreshold)) continue;
    same.push(candidate);
    kept.push(candidate);
  }
  return kept;
}
