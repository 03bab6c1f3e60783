/**
 * Detection test data: the hand-worked example (its AP is worked out in
 * detection-coco-map.test.ts) and seeded random scenes for the pycocotools
 * comparison.
 */
import { mulberry32, seededPermutation } from '../../contracts/seeded-hash';
import type { Detection } from '../../domain/detection/types';
import type { EvaluationImage } from '../../domain/detection/coco-map';

export interface Scene {
  groundTruth: EvaluationImage[];
  /** Aligned with groundTruth by index. */
  detections: Detection[][];
  numClasses: number;
}

const box = (x: number, y: number, w: number, h: number) => ({ x, y, w, h });

/**
 * Two images, two categories. Category 0: three small 10x10 objects (A, B in
 * image 1, C in image 2) and four detections; category 1: one large object
 * in image 1, a crowd region in image 2, and four detections.
 */
export function handWorkedScene(): Scene {
  return {
    numClasses: 2,
    groundTruth: [
      {
        imageId: 1,
        objects: [
          { ...box(0, 0, 10, 10), category: 0 }, // A
          { ...box(20, 20, 10, 10), category: 0 }, // B
          { ...box(0, 0, 100, 100), category: 1 }, // E
        ],
      },
      {
        imageId: 2,
        objects: [
          { ...box(0, 0, 10, 10), category: 0 }, // C
          { ...box(0, 0, 200, 200), category: 1, crowd: true }, // F
        ],
      },
    ],
    detections: [
      [
        { ...box(0, 0, 10, 10), category: 0, score: 0.9 }, // d1: IoU 1 with A
        { ...box(21, 20, 10, 10), category: 0, score: 0.6 }, // d2: IoU 90/110 with B
        { ...box(50, 50, 10, 10), category: 0, score: 0.7 }, // d3: no overlap
        { ...box(0, 0, 100, 100), category: 1, score: 0.5 }, // e1: IoU 1 with E
        { ...box(300, 300, 20, 20), category: 1, score: 0.55 }, // e2: no overlap, area 400
      ],
      [
        { ...box(0, 0, 10, 5), category: 0, score: 0.8 }, // d4: IoU exactly 0.5 with C
        { ...box(10, 10, 50, 50), category: 1, score: 0.95 }, // f1: inside the crowd F
        { ...box(100, 100, 50, 50), category: 1, score: 0.4 }, // f2: inside the crowd F
      ],
    ],
  };
}

export interface RandomSceneOptions {
  seed: number;
  images: number;
  numClasses: number;
  /** Objects per image at most. */
  maxObjects: number;
  /** Chance that an object is a crowd region. */
  crowdRate: number;
  /** Images (by index) that get 130 extra detections of category 0, past maxDets. */
  crowdedImages?: number[];
}

/**
 * Random scenes shaped to hit COCOeval's corners: object sizes across the
 * small/medium/large bounds (some with an `area` unlike w * h), crowd
 * regions, jittered and duplicate detections, false positives, scores on a
 * 0.05 grid (ties within and across images), image ids out of order, images
 * without objects, the last category without any ground truth, and images
 * with more than 100 detections of one category.
 */
export function randomScene(options: RandomSceneOptions): Scene {
  const random = mulberry32(options.seed);
  const { numClasses } = options;
  const uniform = (low: number, high: number) => low + (high - low) * random();
  const size = () => Math.round(Math.exp(uniform(Math.log(3), Math.log(220))) * 4) / 4;
  const score = () => Math.round(uniform(0.05, 1) * 20) / 20;
  const crowded = new Set(options.crowdedImages);
  const groundTruth: EvaluationImage[] = [];
  const detections: Detection[][] = [];
  // Ids from a shuffled range: ascending id order differs from index order.
  const ids = Array.from(seededPermutation(options.images, options.seed), (k) => 100 + 3 * k);
  for (let i = 0; i < options.images; i++) {
    const objects: EvaluationImage['objects'][number][] = [];
    const dets: Detection[] = [];
    const count = random() < 0.1 ? 0 : Math.floor(uniform(1, options.maxObjects + 1));
    for (let o = 0; o < count; o++) {
      // The last category never has ground truth, only detections.
      const category = Math.floor(random() * Math.max(1, numClasses - 1));
      const w = size();
      const h = Math.max(1, Math.round(w * uniform(0.5, 2) * 4) / 4);
      const object = {
        x: Math.round(uniform(0, 500) * 4) / 4,
        y: Math.round(uniform(0, 400) * 4) / 4,
        w,
        h,
        category,
        ...(random() < options.crowdRate ? { crowd: true } : {}),
        ...objectArea(random(), w * h),
      };
      objects.push(object);
      const hits = random() < 0.15 ? 2 : random() < 0.8 ? 1 : 0;
      for (let k = 0; k < hits; k++) {
        const jitter = uniform(0, 0.35);
        dets.push({
          x: object.x + uniform(-jitter, jitter) * w,
          y: object.y + uniform(-jitter, jitter) * h,
          w: w * uniform(1 - jitter, 1 + jitter),
          h: h * uniform(1 - jitter, 1 + jitter),
          category: random() < 0.9 ? category : Math.floor(random() * numClasses),
          score: score(),
        });
      }
    }
    const falsePositives = Math.floor(uniform(0, 4));
    for (let k = 0; k < falsePositives; k++) {
      const w = size();
      dets.push({
        x: uniform(0, 500),
        y: uniform(0, 400),
        w,
        h: w * uniform(0.5, 2),
        category: Math.floor(random() * numClasses),
        score: score(),
      });
    }
    if (crowded.has(i)) {
      for (let k = 0; k < 130; k++) {
        const w = size();
        dets.push({ x: uniform(0, 500), y: uniform(0, 400), w, h: w, category: 0, score: score() });
      }
    }
    groundTruth.push({ imageId: ids[i]!, objects });
    detections.push(dets);
  }
  return { groundTruth, detections, numClasses };
}

/** Mostly none (w * h counts); some areas unlike w * h, some exactly on COCO's 32^2 and 96^2 bounds. */
function objectArea(draw: number, boxArea: number): { area?: number } {
  if (draw < 0.05) return { area: 32 ** 2 };
  if (draw < 0.1) return { area: 96 ** 2 };
  if (draw < 0.25) return { area: Math.round(boxArea * (0.5 + draw)) };
  return {};
}

/** The scene as a COCO annotation file and a COCO results list (category ids shifted by 1, annotation ids from 1). */
export function toCocoJson(scene: Scene): { annotations: unknown; results: unknown[] } {
  let nextId = 1;
  const annotations = scene.groundTruth.flatMap((image) =>
    image.objects.map((o) => ({
      id: nextId++,
      image_id: image.imageId,
      category_id: o.category + 1,
      bbox: [o.x, o.y, o.w, o.h],
      area: o.area ?? o.w * o.h,
      iscrowd: o.crowd === true ? 1 : 0,
    })),
  );
  const results = scene.groundTruth.flatMap((image, i) =>
    scene.detections[i]!.map((d) => ({
      image_id: image.imageId,
      category_id: d.category + 1,
      bbox: [d.x, d.y, d.w, d.h],
      score: d.score,
    })),
  );
  return {
    annotations: {
      info: { description: 'winnow test scene' },
      images: scene.groundTruth.map((image) => ({ id: image.imageId, width: 640, height: 480 })),
      categories: Array.from({ length: scene.numClasses }, (_, k) => ({ id: k + 1, name: `class-${k}` })),
      annotations,
    },
    results,
  };
}
