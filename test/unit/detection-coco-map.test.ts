import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  COCO_IOU_THRESHOLDS,
  COCO_RECALL_POINTS,
  evaluateCoco,
  type CocoSummary,
  type EvaluationImage,
} from '../../domain/detection/coco-map';
import type { Detection } from '../../domain/detection/types';
import { handWorkedScene } from '../helpers/detection-scenes';

type Typed = Error & { failureType?: string };

const box = (x: number, y: number, w: number, h: number) => ({ x, y, w, h });
/** Equal to rounding: COCOeval's precision is tp / (tp + fp + 2^-52), so a perfect AP is 1 - 2e-16. */
const near = (actual: number, expected: number, what = 'value') =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual}, expected ${expected}`);

/** AP at IoU .5, area all, 100 detections, of category 0 in a one-category scene. */
function ap50(groundTruth: EvaluationImage[], detections: Detection[][]): number {
  return evaluateCoco(groundTruth, detections, { numClasses: 1 }).perCategory[0]!.ap50;
}

describe('COCO evaluation: the hand-worked example (test/helpers/detection-scenes.ts)', () => {
  /*
   * Category 0, all areas: objects A, B (image 1), C (image 2), so 3 to find.
   * Detections by score: d1 .9 (IoU 1 with A), d4 .8 (IoU 50/100 = .5 with C),
   * d3 .7 (nothing), d2 .6 (IoU 90/110 = .818 with B).
   *
   * t = .50: TP TP FP TP. recall 1/3 2/3 2/3 1; precision 1 1 2/3 3/4, made
   *   non-increasing from the right: 1 1 .75 .75. Recall points 0..0.66 (67 of
   *   them) read 1, 0.67..1 (34) read .75: AP = (67 + 25.5) / 101 = 92.5/101.
   * t = .55 .. .80 (6 thresholds; d4 misses, d2 still matches): TP FP FP TP.
   *   recall 1/3 1/3 1/3 2/3; precision 1 .5 1/3 .5 -> 1 .5 .5 .5. Points
   *   0..0.33 (34) read 1, 0.34..0.66 (33) read .5, the rest (34) 0:
   *   AP = (34 + 16.5) / 101 = 50.5/101.
   * t = .85 .90 .95 (3; only d1 matches): TP FP FP FP, recall 1/3 throughout,
   *   precision 1 .5 1/3 .25 -> same. Points 0..0.33 read 1: AP = 34/101.
   * AP = (92.5 + 6 * 50.5 + 3 * 34) / 1010 = 497.5/1010; AP50 = 92.5/101; AP75 = 50.5/101.
   * AR100: final recall 1 (t = .5), 2/3 (6 thresholds), 1/3 (3): (1 + 4 + 1) / 10 = .6.
   * AR1 (best detection per image: d1, d4): recall 2/3 at t = .5, 1/3 at the
   *   other 9: (2/3 + 3) / 10 = 11/30. AR10 = AR100.
   * Every object and detection is smaller than 32^2: small = all; medium and
   *   large have no objects, so -1.
   *
   * Category 1: object E (image 1, 100 x 100, large) and crowd region F
   * (image 2), so 1 to find. By score: f1 .95 (inside F: ignored), e2 .55
   * (nothing: FP), e1 .5 (IoU 1 with E: TP), f2 .4 (inside F: ignored; a crowd
   * region takes any number of detections). At every t: recall 0 0 1 1,
   * precision 0 0 .5 .5 -> .5 throughout, so every recall point reads .5:
   * AP = AP50 = AP75 = .5; AR100 = 1. AR1: best per image e2 (FP) and f1
   * (ignored): 0. Large: e2 (area 400, unmatched) is outside the range and
   * dropped, so e1 alone: AP 1, AR 1. Small and medium: no objects, -1.
   *
   * Means over the categories with objects in the range:
   * ap = (497.5/1010 + .5) / 2, ap50 = (92.5/101 + .5) / 2, ap75 = .5,
   * apSmall = 497.5/1010 (category 0 only), apMedium = -1, apLarge = 1
   * (category 1 only), ar1 = (11/30 + 0) / 2, ar10 = ar100 = (.6 + 1) / 2,
   * arSmall = .6, arMedium = -1, arLarge = 1.
   */
  const scene = handWorkedScene();
  const result = evaluateCoco(scene.groundTruth, scene.detections, { numClasses: scene.numClasses });

  it('gives the twelve numbers worked out by hand', () => {
    const expected: CocoSummary = {
      ap: (497.5 / 1010 + 0.5) / 2,
      ap50: (92.5 / 101 + 0.5) / 2,
      ap75: 0.5,
      apSmall: 497.5 / 1010,
      apMedium: -1,
      apLarge: 1,
      ar1: 11 / 60,
      ar10: 0.8,
      ar100: 0.8,
      arSmall: 0.6,
      arMedium: -1,
      arLarge: 1,
    };
    for (const [name, value] of Object.entries(expected)) near(result.summary[name as keyof CocoSummary], value, name);
    assert.deepEqual(
      result.stats,
      Object.values(result.summary),
      'stats is the summary in COCOeval order (the summary is declared in that order)',
    );
  });

  it('gives each category its own AP, AR and PR curve', () => {
    const [zero, one] = result.perCategory;
    near(zero!.ap, 497.5 / 1010, 'category 0 ap');
    near(zero!.ap50, 92.5 / 101, 'category 0 ap50');
    near(zero!.ap75, 50.5 / 101, 'category 0 ap75');
    near(zero!.ar100, 0.6, 'category 0 ar100');
    assert.deepEqual(zero!.precision50, [...new Array<number>(67).fill(1), ...new Array<number>(34).fill(0.75)]);
    assert.deepEqual(
      { groundTruth: zero!.groundTruth, crowd: zero!.crowd, detections: zero!.detections },
      { groundTruth: 3, crowd: 0, detections: 4 },
    );
    near(one!.ap, 0.5, 'category 1 ap');
    near(one!.ar100, 1, 'category 1 ar100');
    assert.deepEqual(
      { groundTruth: one!.groundTruth, crowd: one!.crowd, detections: one!.detections },
      { groundTruth: 1, crowd: 1, detections: 4 },
    );
  });

  it('reports per area range', () => {
    const byName = Object.fromEntries(result.perArea.map((a) => [a.name, a]));
    assert.deepEqual(
      result.perArea.map((a) => [a.name, a.minArea, a.maxArea, a.groundTruth]),
      [
        ['all', 0, 1e10, 4],
        ['small', 0, 1024, 3],
        ['medium', 1024, 9216, 0],
        ['large', 9216, 1e10, 1],
      ],
    );
    near(byName.small!.ap, 497.5 / 1010, 'small ap');
    near(byName.small!.ap50, 92.5 / 101, 'small ap50');
    assert.equal(byName.medium!.ap, -1);
    near(byName.large!.ap75, 1, 'large ap75');
  });

  it('uses the same thresholds as numpy.linspace in COCOeval', () => {
    assert.deepEqual(COCO_IOU_THRESHOLDS, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95]);
    assert.equal(COCO_RECALL_POINTS.length, 101);
    assert.equal(COCO_RECALL_POINTS[57], 0.5700000000000001);
    assert.equal(COCO_RECALL_POINTS[100], 1);
  });

  it('takes detections by imageId as well as by index, in any image order', () => {
    const byId = scene.groundTruth.map((image, i) => ({ imageId: image.imageId, detections: scene.detections[i]! }));
    assert.deepEqual(evaluateCoco(scene.groundTruth, [...byId].reverse()).stats, result.stats);
    // Split one image's detections over two entries: joined in order.
    const split = [
      { imageId: 2, detections: scene.detections[1]!.slice(0, 1) },
      { imageId: 1, detections: scene.detections[0]! },
      { imageId: 2, detections: scene.detections[1]!.slice(1) },
    ];
    assert.deepEqual(evaluateCoco(scene.groundTruth, split).stats, result.stats);
    const reversed = evaluateCoco([...scene.groundTruth].reverse(), [...scene.detections].reverse());
    assert.deepEqual(reversed.stats, result.stats);
  });
});

describe('COCO evaluation: edge cases', () => {
  const one = (objects: EvaluationImage['objects'], imageId = 1): EvaluationImage => ({ imageId, objects });
  const object = { ...box(0, 0, 10, 10), category: 0 };
  const hit = (score: number): Detection => ({ ...box(0, 0, 10, 10), category: 0, score });
  const miss = (score: number): Detection => ({ ...box(50, 50, 10, 10), category: 0, score });

  it('without detections: AP and AR 0 where there are objects, -1 elsewhere', () => {
    const result = evaluateCoco([one([object])], [[]], { numClasses: 2 });
    assert.deepEqual(result.stats, [0, 0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1]);
    assert.equal(result.perCategory[1]!.ap, -1);
    assert.deepEqual(result.perCategory[1]!.precision50, new Array<number>(101).fill(-1));
    assert.deepEqual(evaluateCoco([one([object])], []).stats, result.stats, 'an empty list means no detections');
  });

  it('without any ground truth: every number is -1', () => {
    const result = evaluateCoco([one([]), one([], 2)], [[hit(0.9)], []], { numClasses: 3 });
    assert.deepEqual(result.stats, new Array<number>(12).fill(-1));
    assert.ok(result.perCategory.every((c) => c.ap === -1 && c.ar100 === -1));
    assert.deepEqual(evaluateCoco([], []).stats, new Array<number>(12).fill(-1));
  });

  it('a category without ground truth is left out of the means, its detections with it', () => {
    const base = evaluateCoco([one([object])], [[hit(0.9), miss(0.8)]], { numClasses: 1 });
    const stray: Detection = { ...box(0, 0, 10, 10), category: 1, score: 0.99 };
    const withStray = evaluateCoco([one([object])], [[hit(0.9), miss(0.8), stray]], { numClasses: 2 });
    assert.deepEqual(withStray.stats, base.stats);
    assert.equal(withStray.perCategory[1]!.ap, -1);
    assert.equal(withStray.perCategory[1]!.detections, 1);
  });

  it('a detection on a crowd region is neither true nor false positive, and the region is never missed', () => {
    const crowd = { ...box(0, 0, 100, 100), category: 0, crowd: true };
    const other = { ...box(200, 200, 10, 10), category: 0 };
    // The detection on the crowd region ranks first: as a false positive it would halve AP50.
    const onCrowd: Detection = { ...box(10, 10, 20, 20), category: 0, score: 0.9 };
    const onOther: Detection = { ...box(200, 200, 10, 10), category: 0, score: 0.8 };
    near(ap50([one([crowd, other])], [[onCrowd, onOther]]), 1);
    near(ap50([one([crowd, other])], [[onOther]]), 1);
    const result = evaluateCoco([one([crowd])], [[onCrowd]], { numClasses: 1 });
    assert.equal(result.perCategory[0]!.ap, -1, 'only crowd ground truth: nothing to find');
    assert.equal(result.perCategory[0]!.crowd, 1);
    // Crowd overlap is intersection over the detection's area: a small box deep inside matches at .95.
    near(evaluateCoco([one([crowd, other])], [[onCrowd, onOther]]).summary.ap, 1);
  });

  it('a regular object is preferred to a crowd region that overlaps more', () => {
    const crowd = { ...box(0, 0, 40, 40), category: 0, crowd: true };
    const inside = { ...box(0, 0, 20, 10), category: 0 };
    // IoU .5 with the object, 1 with the crowd region: it still matches the object.
    const detection: Detection = { ...box(0, 0, 20, 20), category: 0, score: 0.9 };
    const result = evaluateCoco([one([crowd, inside])], [[detection]], { numClasses: 1 });
    near(result.perCategory[0]!.ap50, 1);
    assert.equal(result.perCategory[0]!.ap75, 0, 'at .75 the object is out of reach: the crowd region takes it');
  });

  it('equal scores across images: images in ascending imageId order', () => {
    // One object, in the image that holds the true positive; both detections score .5.
    const scene = (hitImageId: number, missImageId: number) => ({
      gt: [one([object], hitImageId), one([], missImageId)],
      dt: [[hit(0.5)], [miss(0.5)]],
    });
    // Miss first (image 1 < 2): precision 0 then 1/2 -> .5 at every recall point.
    const missFirst = scene(2, 1);
    near(ap50(missFirst.gt, missFirst.dt), 0.5);
    // Hit first (image 1 < 2): precision 1 at recall 1.
    const hitFirst = scene(1, 2);
    near(ap50(hitFirst.gt, hitFirst.dt), 1);
  });

  it('equal scores in one image: input order', () => {
    near(ap50([one([object])], [[miss(0.5), hit(0.5)]]), 0.5);
    near(ap50([one([object])], [[hit(0.5), miss(0.5)]]), 1);
  });

  it('a duplicate detection of a found object is a false positive', () => {
    const second = { ...box(100, 100, 10, 10), category: 0 };
    const onSecond: Detection = { ...box(100, 100, 10, 10), category: 0, score: 0.7 };
    // TP FP TP: recall .5 .5 1, precision 1 .5 2/3 -> 1 2/3 2/3; points 0..0.5 (51) read 1, the other 50 read 2/3.
    const ap = ap50([one([object, second])], [[hit(0.9), hit(0.8), onSecond]]);
    near(ap, (51 + (50 * 2) / 3) / 101, 'ap50 with a duplicate');
    near(ap50([one([object, second])], [[hit(0.9), onSecond]]), 1);
  });

  it('keeps the best 100 detections per image and category (maxDets), and AR at 1 and 10', () => {
    const misses = Array.from({ length: 100 }, (_, i) => miss(0.9 - i * 0.001));
    // The hit ranks 101st: cut off.
    const cut = evaluateCoco([one([object])], [[...misses, hit(0.1)]], { numClasses: 1 });
    assert.equal(cut.summary.ar100, 0);
    assert.equal(cut.perCategory[0]!.detections, 100);
    // Scored between the 5th and 6th miss, so ranked 6th: inside 10 and 100, outside 1.
    const sixth = evaluateCoco([one([object])], [[...misses, hit(0.8955)]]);
    assert.deepEqual([sixth.summary.ar1, sixth.summary.ar10, sixth.summary.ar100], [0, 1, 1], 'recall has no epsilon');
    // Another category's 100 detections in the same image do not push it out.
    const others = misses.map((d) => ({ ...d, category: 1, score: 0.95 }));
    const perCategory = evaluateCoco([one([object])], [[...others, ...misses.slice(0, 5), hit(0.5)]]);
    assert.equal(perCategory.perCategory[0]!.ar100, 1);
  });

  it('area ranges: an object by its `area` if given, bounds in both neighbouring ranges', () => {
    const areaOf = (o: EvaluationImage['objects'][number]) =>
      evaluateCoco([one([o])], [[]], { numClasses: 1 }).perArea.map((a) => a.groundTruth);
    assert.deepEqual(areaOf(object), [1, 1, 0, 0]);
    assert.deepEqual(areaOf({ ...object, area: 2000 }), [1, 0, 1, 0]);
    assert.deepEqual(areaOf({ ...box(0, 0, 32, 32), category: 0 }), [1, 1, 1, 0]);
    assert.deepEqual(areaOf({ ...object, area: 96 * 96 }), [1, 0, 1, 1]);
    // An unmatched detection outside a range is dropped there; a matched one counts where its object does.
    const big: Detection = { ...box(300, 300, 100, 100), category: 0, score: 0.95 };
    const result = evaluateCoco([one([object])], [[big, hit(0.9)]], { numClasses: 1 });
    near(result.summary.apSmall, 1);
    assert.ok(result.summary.ap < 1);
  });

  it('rejects what it cannot evaluate, saying where', () => {
    const failure = (fn: () => unknown, pattern: RegExp) =>
      assert.throws(fn, (e: Typed) => e.failureType === 'InvalidData' && pattern.test(e.message));
    failure(() => evaluateCoco([one([object])], [[{ ...hit(0.5), score: NaN }]]), /image 1 .*detection 0: score NaN/);
    failure(() => evaluateCoco([one([object])], [[{ ...hit(0.5), category: 2 }]], { numClasses: 2 }), /category 2/);
    failure(() => evaluateCoco([one([{ ...object, w: -1 }])], [[]]), /object 0: box \[0, 0, -1, 10\]/);
    failure(() => evaluateCoco([one([]), one([])], [[], []]), /share imageId 1/);
    failure(() => evaluateCoco([one([]), one([], 2)], [[]]), /1 lists for 2 images/);
    failure(() => evaluateCoco([one([])], [{ imageId: 5, detections: [] }]), /imageId 5/);
  });
});
