/**
 * Compute task body for detection: COCO mAP of one detector checkpoint (or
 * of an ensemble: the mean of the checkpoints' class and box maps) on a split.
 * Maps are decoded to per-category peaks, class-wise NMS drops overlapping
 * boxes, and domain/detection/coco-map.ts scores them as pycocotools does.
 * Optionally writes a few images with their predicted boxes drawn, for the report.
 */
import type { DetectionDatasetSpec } from '../../contracts/detection-data-spec';
import type { Split } from '../../domain/data';
import { encodeRgbPng } from '../../domain/data/write-detection-scenes';
import { evaluateCoco, type CocoSummary } from '../../domain/detection/coco-map';
import { decodeDetections, type DetectorMaps } from '../../domain/detection/decode';
import { drawBoxes } from '../../domain/detection/draw-boxes';
import { nonMaxSuppression } from '../../domain/detection/nms';
import type { Detection } from '../../domain/detection/types';
import { predictDetectorMaps } from '../../domain/ml/detector-predict';
import type { ArtifactStore } from '../../domain/storage/store';
import type { PhaseClock } from '../phase-clock';
import { assertFinitePredictions } from './checkpoint-store';
import { loadInferenceModel } from './inference-models';
import { openDetectionTaskDataset } from './task-datasets';

/** Boxes below this score are not drawn in previews (they still count for mAP). */
const PREVIEW_SCORE = 0.3;
/** Class-wise NMS: a box overlapping a better one of its category by more than this is dropped. */
const NMS_IOU = 0.6;

export interface DetectionMetrics {
  /** COCO mAP@[.5:.95], all areas, 100 detections per image. */
  map: number;
  /** mAP at IoU 0.5. */
  map50: number;
  /** COCOeval's twelve numbers by name. */
  summary: CocoSummary;
  /** AP per category (-1: the category has no ground truth in the split). */
  perCategoryAp: number[];
  images: number;
  objects: number;
  detections: number;
}

export interface DetectionPreview {
  uri: string;
  imageId: number;
  /** Boxes drawn (score >= 0.3) and ground-truth objects of the image. */
  drawn: number;
  objects: number;
}

export interface DetectorEvaluationInput {
  dataset: DetectionDatasetSpec;
  split: Split;
  checkpoints: string[];
  batchSize?: number;
  /** Where preview PNGs go (`<key>/<i>.png`); absent: none written. */
  previewKey?: string;
  /** How many test images to draw (default 4). */
  previews?: number;
}

export async function evaluateDetectorCheckpoints(
  input: DetectorEvaluationInput,
  store: ArtifactStore,
  clock: PhaseClock,
): Promise<{ detection: DetectionMetrics; previews?: DetectionPreview[] }> {
  const dataset = await clock.time('dataRead', () => openDetectionTaskDataset(input.dataset));
  const count = dataset.info.samples[input.split];
  const batch = await clock.time('dataRead', () => dataset.readRange(input.split, 0, count));
  const annotations = await clock.time('dataRead', () => dataset.readAnnotations(input.split));
  let mean: DetectorMaps | undefined;
  const share = 1 / input.checkpoints.length;
  for (const [i, uri] of input.checkpoints.entries()) {
    const role = `detection evaluation on ${input.split}, model ${i + 1} of ${input.checkpoints.length}`;
    const loaded = await loadInferenceModel(store, uri, role, clock);
    try {
      clock.timeSync('compute', () => {
        const maps = predictDetectorMaps(loaded.model, batch.images, batch.count, input.batchSize);
        assertFinitePredictions(maps.classMaps, maps.classes, 0, `${role}, checkpoint ${uri}`);
        if (!mean) {
          mean = {
            ...maps,
            classMaps: new Float32Array(maps.classMaps.length),
            boxMaps: new Float32Array(maps.boxMaps.length),
          };
        } else if (mean.classMaps.length !== maps.classMaps.length) {
          throw new Error(`${role}: its maps differ in size from the first model's`);
        }
        for (let j = 0; j < maps.classMaps.length; j++) mean.classMaps[j] += maps.classMaps[j] * share;
        for (let j = 0; j < maps.boxMaps.length; j++) mean.boxMaps[j] += maps.boxMaps[j] * share;
      });
    } finally {
      loaded.release();
    }
  }
  const [height, width, channels] = dataset.info.shape;
  const detections = clock.timeSync('compute', () =>
    decodeDetections(mean!, { imageHeight: height, imageWidth: width, scoreThreshold: 0.01, topK: 100 }).map((found) =>
      nonMaxSuppression(found, { iouThreshold: NMS_IOU, maxDetections: 100 }),
    ),
  );
  const coco = clock.timeSync('compute', () =>
    evaluateCoco(annotations, detections, { numClasses: dataset.info.numClasses }),
  );
  const metrics: DetectionMetrics = {
    map: coco.summary.ap,
    map50: coco.summary.ap50,
    summary: coco.summary,
    perCategoryAp: coco.perCategory.map((c) => c.ap),
    images: count,
    objects: annotations.reduce((sum, a) => sum + a.objects.length, 0),
    detections: detections.reduce((sum, d) => sum + d.length, 0),
  };
  if (input.previewKey === undefined) return { detection: metrics };
  const previewKey = input.previewKey;
  const previews = await clock.time('write', () =>
    writePreviews(store, previewKey, Math.min(input.previews ?? 4, count), {
      batch,
      detections,
      height,
      width,
      channels,
    }),
  );
  return { detection: metrics, previews };
}

async function writePreviews(
  store: ArtifactStore,
  key: string,
  count: number,
  from: {
    batch: { images: Float32Array; imageIds: Int32Array; objects: { length: number }[] };
    detections: Detection[][];
    height: number;
    width: number;
    channels: number;
  },
): Promise<DetectionPreview[]> {
  const { batch, detections, height, width, channels } = from;
  const size = height * width * channels;
  const previews: DetectionPreview[] = [];
  for (let i = 0; i < count; i++) {
    const pixels = new Uint8Array(size);
    for (let j = 0; j < size; j++) pixels[j] = Math.round(Math.min(1, Math.max(0, batch.images[i * size + j])) * 255);
    const boxes = detections[i].filter((d) => d.score >= PREVIEW_SCORE);
    const rgb = drawBoxes(pixels, { height, width, channels }, boxes);
    const stored = await store.put(`${key}/${i}.png`, encodeRgbPng(rgb, width, height));
    previews.push({
      uri: stored.uri,
      imageId: batch.imageIds[i],
      drawn: boxes.length,
      objects: batch.objects[i].length,
    });
  }
  return previews;
}
