/**
 * COCO bounding-box evaluation, number for number what pycocotools' COCOeval
 * (iouType 'bbox', default parameters) computes. Pure.
 *
 * What it follows, step by step (test/unit/detection-pycocotools.test.ts
 * checks all twelve stats and every category's AP against pycocotools):
 * - Images are taken in ascending imageId order (COCOeval's sorted imgIds),
 *   which decides the order of equal scores across images.
 * - Per image and category, detections are sorted by score, highest first,
 *   equal scores in input order (numpy's stable mergesort), and only the
 *   first 100 are kept: maxDets limits detections per image AND category.
 * - IoU is boxes.ts' iou; a crowd object's overlap is crowdIou (intersection
 *   over the detection's area). Crowd objects are "ignored": any number of
 *   detections may match one, and a detection matched to one counts neither
 *   as a true nor as a false positive; they never count as misses.
 * - Per area range an object outside it (by `area`, else w * h; bounds
 *   inclusive: COCO's 32^2 and 96^2) is ignored likewise, and an unmatched
 *   detection outside it (by w * h) is dropped.
 * - Greedy matching per IoU threshold t in .50:.05:.95: each detection, best
 *   score first, takes the unmatched object (or any crowd object) with the
 *   highest IoU >= min(t, 1 - 1e-10), preferring non-ignored objects (it stops
 *   at the first ignored object once it holds a non-ignored match; equal IoUs
 *   go to the later object).
 * - Per category, area range and maxDets, all its detections over all images
 *   are sorted by score (stable: image order, then per-image order), precision
 *   and recall accumulated, precision made non-increasing from the right, and
 *   read at the 101 recall points 0:.01:1 (first point with recall >= r; 0
 *   past the last detection). Recall is the final recall.
 * - A category without non-ignored ground truth in an area range has no AP or
 *   AR there (-1) and is left out of the means; a mean over nothing is -1.
 * Work is per image and category (matching is D x G per cell), plus one sort
 * of each category's detections: linear in the number of images.
 */
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { crowdIou, iou } from './boxes';
import type { Detection, GroundTruthObject } from './types';

/** A ground-truth object as evaluation reads it: `area` (COCO's annotation area) overrides w * h for the area ranges. */
export interface EvaluatedObject extends GroundTruthObject {
  area?: number;
}

/** One image's ground truth (ImageAnnotations fits). */
export interface EvaluationImage {
  imageId: number;
  objects: readonly EvaluatedObject[];
}

/** Detections of one image, named by imageId instead of by position. */
export interface ImageDetections {
  imageId: number;
  detections: readonly Detection[];
}

/**
 * Either one Detection[] per ground-truth image, aligned by index, or
 * ImageDetections (any order; several entries for one image are joined in
 * order; images without an entry have no detections).
 */
export type DetectionsInput = readonly (readonly Detection[])[] | readonly ImageDetections[];

export interface CocoEvaluationOptions {
  /** Categories are 0..numClasses-1; default one past the largest category seen. */
  numClasses?: number;
}

/** COCOeval's twelve summary numbers (AP: precision averaged over IoU .50:.05:.95 and recall; AR: recall over IoU). */
export interface CocoSummary {
  /** AP, all areas, 100 detections: the COCO mAP. */
  ap: number;
  ap50: number;
  ap75: number;
  apSmall: number;
  apMedium: number;
  apLarge: number;
  ar1: number;
  ar10: number;
  ar100: number;
  arSmall: number;
  arMedium: number;
  arLarge: number;
}

/** The summary's fields in COCOeval.stats order. */
export const COCO_STAT_NAMES: readonly (keyof CocoSummary)[] = [
  'ap',
  'ap50',
  'ap75',
  'apSmall',
  'apMedium',
  'apLarge',
  'ar1',
  'ar10',
  'ar100',
  'arSmall',
  'arMedium',
  'arLarge',
];

/** Per category, all areas, 100 detections; -1 where the category has no (non-crowd) ground truth. */
export interface CategoryEvaluation {
  category: number;
  /** Non-crowd ground-truth objects. */
  groundTruth: number;
  crowd: number;
  /** Detections evaluated: at most 100 per image. */
  detections: number;
  ap: number;
  ap50: number;
  ap75: number;
  ar100: number;
  /** Interpolated precision at the 101 recall points 0:.01:1, IoU .5 (a PR curve for reports); all -1 without ground truth. */
  precision50: number[];
}

export type AreaRangeName = 'all' | 'small' | 'medium' | 'large';

/** Per area range, 100 detections, averaged over the categories with ground truth in that range. */
export interface AreaEvaluation {
  name: AreaRangeName;
  minArea: number;
  maxArea: number;
  /** Non-ignored ground-truth objects in this range, all categories. */
  groundTruth: number;
  ap: number;
  ap50: number;
  ap75: number;
  ar100: number;
}

export interface CocoEvaluation {
  summary: CocoSummary;
  /** The summary as COCOeval.stats: COCO_STAT_NAMES order. */
  stats: number[];
  perCategory: CategoryEvaluation[];
  perArea: AreaEvaluation[];
  images: number;
}

/** numpy.linspace(.5, .95, 10): the same doubles (0.8999999999999999 included). */
export const COCO_IOU_THRESHOLDS: readonly number[] = linspace(0.5, 0.95, 10);
/** numpy.linspace(0, 1, 101). */
export const COCO_RECALL_POINTS: readonly number[] = linspace(0, 1, 101);
export const COCO_MAX_DETECTIONS: readonly number[] = [1, 10, 100];
export const COCO_AREA_RANGES: readonly { name: AreaRangeName; minArea: number; maxArea: number }[] = [
  { name: 'all', minArea: 0, maxArea: 1e5 ** 2 },
  { name: 'small', minArea: 0, maxArea: 32 ** 2 },
  { name: 'medium', minArea: 32 ** 2, maxArea: 96 ** 2 },
  { name: 'large', minArea: 96 ** 2, maxArea: 1e5 ** 2 },
];

const T = COCO_IOU_THRESHOLDS.length;
const R = COCO_RECALL_POINTS.length;
const A = COCO_AREA_RANGES.length;
const MAX_DETS = COCO_MAX_DETECTIONS[COCO_MAX_DETECTIONS.length - 1]!;
/** numpy.spacing(1): keeps precision 0/0 at 0. */
const EPS = 2.220446049250313e-16;
const T50 = 0;
const T75 = 5;

const FALSE_POSITIVE = 0;
const TRUE_POSITIVE = 1;
const IGNORED = 2;

/** Evaluates detections against ground truth as COCOeval does for bbox (see the module comment). */
export function evaluateCoco(
  groundTruth: readonly EvaluationImage[],
  detections: DetectionsInput,
  options: CocoEvaluationOptions = {},
): CocoEvaluation {
  const perImage = detectionsPerImage(groundTruth, detections);
  const numClasses = options.numClasses ?? inferNumClasses(groundTruth, perImage);
  if (!Number.isSafeInteger(numClasses) || numClasses < 0) {
    throw new TypedTaskError(FailureType.InvalidConfig, `numClasses must be a non-negative integer, got ${numClasses}`);
  }
  const cells = cellsPerCategory(groundTruth, perImage, numClasses);
  const results = cells.map((categoryCells) => evaluateCategory(categoryCells));

  const perCategory = results.map((result, category): CategoryEvaluation => {
    const all = result.areas[0] ?? null;
    return {
      category,
      groundTruth: result.groundTruth,
      crowd: result.crowd,
      detections: result.detections,
      ap: meanOver([all], (p) => p.precision, 0, T),
      ap50: meanOver([all], (p) => p.precision, T50, T50 + 1),
      ap75: meanOver([all], (p) => p.precision, T75, T75 + 1),
      ar100: meanOver([all], (p) => p.recall100),
      precision50: all === null ? new Array<number>(R).fill(-1) : Array.from(all.precision.subarray(0, R)),
    };
  });
  const perArea = COCO_AREA_RANGES.map((range, a): AreaEvaluation => {
    const areas = results.map((r) => r.areas[a] ?? null);
    return {
      ...range,
      groundTruth: areas.reduce((sum, p) => sum + (p?.groundTruth ?? 0), 0),
      ap: meanOver(areas, (p) => p.precision, 0, T),
      ap50: meanOver(areas, (p) => p.precision, T50, T50 + 1),
      ap75: meanOver(areas, (p) => p.precision, T75, T75 + 1),
      ar100: meanOver(areas, (p) => p.recall100),
    };
  });
  const all = results.map((r) => r.areas[0] ?? null);
  const summary: CocoSummary = {
    ap: perArea[0]!.ap,
    ap50: perArea[0]!.ap50,
    ap75: perArea[0]!.ap75,
    apSmall: perArea[1]!.ap,
    apMedium: perArea[2]!.ap,
    apLarge: perArea[3]!.ap,
    ar1: meanOver(all, (p) => p.recall1),
    ar10: meanOver(all, (p) => p.recall10),
    ar100: perArea[0]!.ar100,
    arSmall: perArea[1]!.ar100,
    arMedium: perArea[2]!.ar100,
    arLarge: perArea[3]!.ar100,
  };
  return {
    summary,
    stats: COCO_STAT_NAMES.map((name) => summary[name]),
    perCategory,
    perArea,
    images: groundTruth.length,
  };
}

/** One image's objects and detections of one category. */
interface Cell {
  objects: EvaluatedObject[];
  detections: Detection[];
}

/** One category in one area range (absent where it has no non-ignored ground truth there). */
interface AreaResult {
  groundTruth: number;
  /** T x R interpolated precision at 100 detections, threshold-major. */
  precision: Float64Array;
  /** Per threshold, final recall at 1, 10 and 100 detections. */
  recall1: Float64Array;
  recall10: Float64Array;
  recall100: Float64Array;
}

interface CategoryResult {
  groundTruth: number;
  crowd: number;
  detections: number;
  areas: (AreaResult | null)[];
}

function evaluateCategory(cells: readonly Cell[]): CategoryResult {
  let total = 0;
  for (const cell of cells) total += Math.min(cell.detections.length, MAX_DETS);
  const scores = new Float64Array(total);
  const ranks = new Uint8Array(total);
  /** Per detection, per area range, per threshold: FALSE_POSITIVE, TRUE_POSITIVE or IGNORED. */
  const codes = new Uint8Array(total * A * T);
  const groundTruth = new Array<number>(A).fill(0);
  let crowd = 0;

  let next = 0;
  for (const cell of cells) {
    const first = next;
    next += matchCell(cell, scores, ranks, codes, first, groundTruth);
    for (const object of cell.objects) if (object.crowd === true) crowd++;
  }

  // All the category's detections by score; equal scores keep image order, then per-image order.
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  order.sort((i, j) => scores[j]! - scores[i]! || i - j);

  const recallAt = (counts: Uint32Array, a: number) => Float64Array.from(counts, (tp) => tp / groundTruth[a]!);
  const areas = COCO_AREA_RANGES.map((_, a): AreaResult | null => {
    const npig = groundTruth[a]!;
    if (npig === 0) return null;
    const precision = new Float64Array(T * R);
    const tp1 = new Uint32Array(T);
    const tp10 = new Uint32Array(T);
    const tp100 = new Uint32Array(T);
    const recall = new Float64Array(total);
    const envelope = new Float64Array(total);
    for (let t = 0; t < T; t++) {
      let tp = 0;
      let fp = 0;
      for (let n = 0; n < total; n++) {
        const i = order[n]!;
        const code = codes[(i * A + a) * T + t];
        if (code === TRUE_POSITIVE) {
          tp++;
          if (ranks[i]! < 1) tp1[t]!++;
          if (ranks[i]! < 10) tp10[t]!++;
        } else if (code === FALSE_POSITIVE) {
          fp++;
        }
        recall[n] = tp / npig;
        envelope[n] = tp / (fp + tp + EPS);
      }
      tp100[t] = tp;
      for (let n = total - 1; n > 0; n--) {
        if (envelope[n]! > envelope[n - 1]!) envelope[n - 1] = envelope[n]!;
      }
      let n = 0;
      for (let r = 0; r < R; r++) {
        while (n < total && recall[n]! < COCO_RECALL_POINTS[r]!) n++;
        if (n === total) break; // the rest stay 0, as in COCOeval
        precision[t * R + r] = envelope[n]!;
      }
    }
    return {
      groundTruth: npig,
      precision,
      recall1: recallAt(tp1, a),
      recall10: recallAt(tp10, a),
      recall100: recallAt(tp100, a),
    };
  });
  return { groundTruth: groundTruth[0]!, crowd, detections: total, areas };
}

/**
 * Matches one image's detections of a category (its best 100) to its objects,
 * for every area range and threshold; writes each detection's score, per-image
 * rank and codes from `first` on, adds the non-ignored objects to
 * `groundTruth`, and returns how many detections it wrote.
 */
function matchCell(
  cell: Cell,
  scores: Float64Array,
  ranks: Uint8Array,
  codes: Uint8Array,
  first: number,
  groundTruth: number[],
): number {
  const dts = stableByScore(cell.detections).slice(0, MAX_DETS);
  const gts = cell.objects;
  const D = dts.length;
  const G = gts.length;
  const overlaps = new Float64Array(D * G);
  for (let d = 0; d < D; d++) {
    for (let g = 0; g < G; g++) {
      overlaps[d * G + g] = gts[g]!.crowd === true ? crowdIou(dts[d]!, gts[g]!) : iou(dts[d]!, gts[g]!);
    }
  }
  for (let d = 0; d < D; d++) {
    scores[first + d] = dts[d]!.score;
    ranks[first + d] = d;
  }

  const ignored = new Uint8Array(G);
  const matched = new Uint8Array(G);
  const gtOrder: number[] = [];
  COCO_AREA_RANGES.forEach(({ minArea, maxArea }, a) => {
    const outside = (area: number) => area < minArea || area > maxArea;
    gtOrder.length = 0;
    for (let g = 0; g < G; g++) {
      const object = gts[g]!;
      ignored[g] = object.crowd === true || outside(object.area ?? object.w * object.h) ? 1 : 0;
      if (ignored[g] === 0) gtOrder.push(g);
    }
    groundTruth[a]! += gtOrder.length;
    for (let g = 0; g < G; g++) if (ignored[g] === 1) gtOrder.push(g);

    for (let t = 0; t < T; t++) {
      matched.fill(0);
      for (let d = 0; d < D; d++) {
        let best = Math.min(COCO_IOU_THRESHOLDS[t]!, 1 - 1e-10);
        let m = -1;
        for (const g of gtOrder) {
          if (matched[g] === 1 && gts[g]!.crowd !== true) continue;
          // Holding a regular match, stop at the ignored objects (sorted last).
          if (m > -1 && ignored[m] === 0 && ignored[g] === 1) break;
          const overlap = overlaps[d * G + g]!;
          if (overlap < best) continue;
          best = overlap;
          m = g;
        }
        let code: number;
        if (m > -1) {
          matched[m] = 1;
          code = ignored[m] === 1 ? IGNORED : TRUE_POSITIVE;
        } else {
          code = outside(dts[d]!.w * dts[d]!.h) ? IGNORED : FALSE_POSITIVE;
        }
        codes[((first + d) * A + a) * T + t] = code;
      }
    }
  });
  return D;
}

function stableByScore(detections: readonly Detection[]): Detection[] {
  const order = detections.map((_, i) => i);
  order.sort((i, j) => detections[j]!.score - detections[i]!.score || i - j);
  return order.map((i) => detections[i]!);
}

/** Mean over the present results of their values at thresholds [fromThreshold, toThreshold); -1 when none is present. */
function meanOver(
  results: readonly (AreaResult | null)[],
  pick: (result: AreaResult) => Float64Array,
  fromThreshold = 0,
  toThreshold = T,
): number {
  let sum = 0;
  let count = 0;
  for (const result of results) {
    if (result === null) continue;
    const values = pick(result);
    const width = values.length / T;
    for (let i = fromThreshold * width; i < toThreshold * width; i++) sum += values[i]!;
    count += (toThreshold - fromThreshold) * width;
  }
  return count === 0 ? -1 : sum / count;
}

function detectionsPerImage(
  groundTruth: readonly EvaluationImage[],
  detections: DetectionsInput,
): (readonly Detection[])[] {
  const indexOf = new Map<number, number>();
  groundTruth.forEach((image, i) => {
    if (!Number.isFinite(image.imageId)) {
      throw new TypedTaskError(FailureType.InvalidData, `ground truth image ${i} has imageId ${image.imageId}`);
    }
    const seen = indexOf.get(image.imageId);
    if (seen !== undefined) {
      throw new TypedTaskError(
        FailureType.InvalidData,
        `ground truth images ${seen} and ${i} share imageId ${image.imageId}; image ids must be unique`,
      );
    }
    indexOf.set(image.imageId, i);
  });
  if (detections.length === 0) return groundTruth.map(() => []);
  if (Array.isArray(detections[0])) {
    const aligned = detections as readonly (readonly Detection[])[];
    if (aligned.length !== groundTruth.length) {
      throw new TypedTaskError(
        FailureType.InvalidData,
        `detections are aligned by index but there are ${aligned.length} lists for ${groundTruth.length} images; ` +
          'pass one list per image, or { imageId, detections } entries',
      );
    }
    return aligned.map((list, i) => {
      if (!Array.isArray(list)) {
        throw new TypedTaskError(FailureType.InvalidData, `detections[${i}] is not a list (do not mix the two forms)`);
      }
      return list;
    });
  }
  const joined: Detection[][] = groundTruth.map(() => []);
  (detections as readonly ImageDetections[]).forEach((entry, e) => {
    const i = entry === null || typeof entry !== 'object' ? undefined : indexOf.get(entry.imageId);
    if (i === undefined || !Array.isArray(entry.detections)) {
      throw new TypedTaskError(
        FailureType.InvalidData,
        `detections[${e}] names imageId ${entry?.imageId}, which is not a ground truth image ` +
          '(or is not an { imageId, detections } entry)',
      );
    }
    for (const detection of entry.detections) joined[i]!.push(detection);
  });
  return joined;
}

function inferNumClasses(groundTruth: readonly EvaluationImage[], perImage: readonly (readonly Detection[])[]): number {
  let max = -1;
  for (const image of groundTruth) for (const o of image.objects) max = Math.max(max, o.category);
  for (const list of perImage) for (const d of list) max = Math.max(max, d.category);
  return max + 1;
}

/** Validates every box and groups objects and detections per category, in ascending imageId order. */
function cellsPerCategory(
  groundTruth: readonly EvaluationImage[],
  perImage: readonly (readonly Detection[])[],
  numClasses: number,
): Cell[][] {
  const byCategory: Cell[][] = Array.from({ length: numClasses }, () => []);
  const imageOrder = groundTruth.map((_, i) => i).sort((i, j) => groundTruth[i]!.imageId - groundTruth[j]!.imageId);
  for (const i of imageOrder) {
    const image = groundTruth[i]!;
    const cells = new Map<number, Cell>();
    const cellOf = (category: number) => {
      let cell = cells.get(category);
      if (cell === undefined) {
        cell = { objects: [], detections: [] };
        cells.set(category, cell);
        byCategory[category]!.push(cell);
      }
      return cell;
    };
    image.objects.forEach((object, j) => {
      const where = `ground truth image ${image.imageId} (index ${i}), object ${j}`;
      checkBox(object, numClasses, where);
      if (object.area !== undefined && !(Number.isFinite(object.area) && object.area >= 0)) {
        throw new TypedTaskError(FailureType.InvalidData, `${where}: area ${object.area} is not a finite number >= 0`);
      }
      cellOf(object.category).objects.push(object);
    });
    perImage[i]!.forEach((detection, j) => {
      const where = `detections of image ${image.imageId} (index ${i}), detection ${j}`;
      checkBox(detection, numClasses, where);
      if (!Number.isFinite(detection.score)) {
        throw new TypedTaskError(FailureType.InvalidData, `${where}: score ${detection.score} is not finite`);
      }
      cellOf(detection.category).detections.push(detection);
    });
  }
  return byCategory;
}

function checkBox(box: GroundTruthObject | Detection, numClasses: number, where: string): void {
  const { x, y, w, h, category } = box;
  if (![x, y, w, h].every(Number.isFinite) || w < 0 || h < 0) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `${where}: box [${x}, ${y}, ${w}, ${h}] needs finite x, y and w, h >= 0 (COCO [x, y, w, h] pixels)`,
    );
  }
  if (!Number.isInteger(category) || category < 0 || category >= numClasses) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `${where}: category ${category} is not an integer in [0, ${numClasses})`,
    );
  }
}

/** numpy.linspace(start, stop, num) with its arithmetic: i * step + start, the last point exactly stop. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : i * step + start));
}
