/**
 * The detector learns generated scenes from scratch on the worker's backend
 * (WINNOW_BACKEND picks it, as in ml-training.test.ts): after a short run its
 * decoded peaks find most held-out objects at IoU 0.5 with the right
 * category, its class maps are distributions, and training leaks no tensors.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initComputeBackend } from '../../compute/backend';
import { decodeDetections } from '../../domain/detection/decode';
import type { Detection, GroundTruthObject } from '../../domain/detection/types';
import { buildDetector } from '../../domain/ml/detector-model';
import { predictDetectorMaps } from '../../domain/ml/detector-predict';
import { createOptimizer } from '../../domain/ml/train';
import {
  defaultDetectorTrainingSettings,
  trainDetector,
  type DetectorEpochMetrics,
  type DetectorTrainingSettings,
} from '../../domain/ml/train-detector';
import { iou, makeScenes } from './detector-scenes';

/** Share of objects matched (greedily, best score first) by a detection of their category at IoU >= 0.5. */
function recallAt50(detections: Detection[][], truth: GroundTruthObject[][]): number {
  let found = 0;
  let total = 0;
  truth.forEach((objects, i) => {
    total += objects.length;
    const unmatched = new Set(objects);
    for (const d of detections[i]) {
      const best = [...unmatched]
        .filter((o) => o.category === d.category)
        .map((o) => ({ o, overlap: iou(o, d) }))
        .sort((a, b) => b.overlap - a.overlap)[0];
      if (best && best.overlap >= 0.5) {
        unmatched.delete(best.o);
        found++;
      }
    }
  });
  return found / total;
}

describe('training the detector on generated scenes', () => {
  let backend = '';
  before(async () => {
    backend = (await initComputeBackend()).name;
  });

  it('finds most held-out objects after a short run, without leaks', async () => {
    const train = makeScenes(200, 48, 11);
    const test = makeScenes(60, 48, 12);
    const settings: DetectorTrainingSettings = { ...defaultDetectorTrainingSettings, epochs: 10, batchSize: 16 };
    const model = buildDetector({ inputShape: train.shape, numClasses: 3, seed: 4 });
    const optimizer = createOptimizer({ ...settings, augmentation: 'none' });
    const history: DetectorEpochMetrics[] = [];
    const started = Date.now();
    await trainDetector({
      model,
      optimizer,
      samples: { ...train, numClasses: 3 },
      settings,
      seed: 9,
      context: 'test detector',
      onEpochEnd: async (m) => {
        history.push(m);
      },
    });
    const before = tf.memory().numTensors;
    const maps = predictDetectorMaps(model, test.images, test.count, 32);
    assert.equal(tf.memory().numTensors, before, 'tensors after predicting');
    const detections = decodeDetections(maps);
    const recall = recallAt50(detections, test.objects);
    console.log(
      `${backend}: ${((Date.now() - started) / 1000).toFixed(1)} s; recall@0.5 ${recall.toFixed(3)}; ` +
        history.map((m) => `${m.loss.toFixed(3)} (${m.classLoss.toFixed(3)} + ${m.boxLoss.toFixed(3)}, acc ${m.accuracy.toFixed(2)})`).join(', '),
    );
    const detectionsPerImage = detections.reduce((n, d) => n + d.length, 0) / test.count;
    console.log(`detections per image ${detectionsPerImage.toFixed(2)}`);
    for (const t of [0.2, 0.3, 0.5]) {
      const kept = detections.map((d) => d.filter((x) => x.score >= t));
      const n = kept.reduce((a, d) => a + d.length, 0);
      const r = recallAt50(kept, test.objects);
      const total = test.objects.reduce((a, o) => a + o.length, 0);
      console.log(`t ${t}: recall ${r.toFixed(3)} precision ${((r * total) / n).toFixed(3)} n ${n}`);
    }
    assert.ok(recall > 0.7, `recall at IoU 0.5 is ${recall}`);
    model.dispose();
    optimizer.dispose();
  });
});
