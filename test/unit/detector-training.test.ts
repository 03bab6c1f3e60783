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
    const tensorsBefore = tf.memory().numTensors;
    const settings: DetectorTrainingSettings = { ...defaultDetectorTrainingSettings, epochs: 20, batchSize: 16 };
    const model = buildDetector({ inputShape: train.shape, numClasses: 3, seed: 4 });
    const optimizer = createOptimizer({ ...settings, augmentation: 'none' });
    const started = Date.now();
    const history = await trainDetector({
      model,
      optimizer,
      samples: { ...train, numClasses: 3 },
      settings,
      seed: 9,
      context: 'test detector',
    });
    const seconds = (Date.now() - started) / 1000;
    const maps = predictDetectorMaps(model, test.images, test.count, 32);
    for (let row = 0; row < maps.classMaps.length / maps.classes; row++) {
      let sum = 0;
      for (let k = 0; k < maps.classes; k++) sum += maps.classMaps[row * maps.classes + k];
      assert.ok(Math.abs(sum - 1) < 1e-5, `class map row ${row} sums to ${sum}`);
    }
    const detections = decodeDetections(maps);
    const recall = recallAt50(detections, test.objects);
    const confident = detections.map((list) => list.filter((d) => d.score >= 0.5));
    const confidentRecall = recallAt50(confident, test.objects);
    const objects = test.objects.reduce((n, list) => n + list.length, 0);
    const precision = (confidentRecall * objects) / confident.reduce((n, list) => n + list.length, 0);
    const [first, last] = [history[0], history[history.length - 1]];
    console.log(
      `${backend}: ${seconds.toFixed(1)} s for ${settings.epochs} epochs; loss ${first.loss.toFixed(3)} -> ${last.loss.toFixed(3)} ` +
        `(class ${last.classLoss.toFixed(3)}, box ${last.boxLoss.toFixed(3)}, centre accuracy ${last.accuracy.toFixed(2)}); ` +
        `recall@0.5 ${recall.toFixed(3)}; at score >= 0.5 recall ${confidentRecall.toFixed(3)}, precision ${precision.toFixed(3)}`,
    );
    assert.ok(last.loss < first.loss / 4, `loss ${first.loss} -> ${last.loss}`);
    assert.ok(last.accuracy > 0.7, `centre-cell accuracy ${last.accuracy}`);
    assert.ok(recall > 0.85, `recall at IoU 0.5 is ${recall}`);
    assert.ok(
      confidentRecall > 0.5 && precision > 0.75,
      `at score >= 0.5: recall ${confidentRecall}, precision ${precision}`,
    );
    model.dispose();
    optimizer.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'every tensor was disposed');
  });
});
