/**
 * Batched inference of a detector (detector-model.ts): its class-probability
 * maps, the per-location rows the ensemble accumulator folds (locations =
 * mapHeight * mapWidth, classes = numClasses + 1), and optionally its box
 * maps for decoding (domain/detection/decode.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { DetectorMaps } from '../detection/decode';
import { BOX_CHANNELS, detectorGeometry } from './detector-model';
import { forwardBatchSize } from './predict';

function checkImages(model: tf.LayersModel, images: Float32Array, count: number): [number, number, number] {
  const shape = detectorGeometry(model).inputShape;
  const size = shape[0] * shape[1] * shape[2];
  if (images.length !== count * size) {
    throw new Error(
      `detector ${model.name}: ${count} images of ${shape.join('x')} need ${count * size} floats, got ${images.length}`,
    );
  }
  return shape;
}

function predictMaps(
  model: tf.LayersModel,
  images: Float32Array,
  count: number,
  batchSize: number,
  withBoxes: boolean,
): DetectorMaps {
  const shape = checkImages(model, images, count);
  const { mapHeight, mapWidth, stride, classes } = detectorGeometry(model);
  const sampleSize = shape[0] * shape[1] * shape[2];
  const locations = mapHeight * mapWidth;
  const classMaps = new Float32Array(count * locations * classes);
  const boxMaps = new Float32Array(withBoxes ? count * locations * BOX_CHANNELS : 0);
  const forwardBatch = forwardBatchSize(shape);
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start);
    const [probabilities, boxes] = tf.tidy(() => {
      const xs = tf.tensor4d(images.subarray(start * sampleSize, (start + size) * sampleSize), [size, ...shape]);
      const rows = (model.predict(xs, { batchSize: forwardBatch }) as tf.Tensor).reshape([-1, classes + BOX_CHANNELS]);
      const probabilities = tf.softmax(rows.slice([0, 0], [-1, classes]));
      if (!withBoxes) return [probabilities];
      const offsets = tf.sigmoid(rows.slice([0, classes], [-1, 2]));
      return [probabilities, tf.concat([offsets, rows.slice([0, classes + 2], [-1, 2])], 1)];
    });
    classMaps.set(probabilities.dataSync() as Float32Array, start * locations * classes);
    probabilities.dispose();
    if (boxes) {
      boxMaps.set(boxes.dataSync() as Float32Array, start * locations * BOX_CHANNELS);
      boxes.dispose();
    }
  }
  return { count, mapHeight, mapWidth, stride, classes, classMaps, boxMaps };
}

/**
 * Per-location softmax probabilities, [image][location][class] row-major
 * (location = row * mapWidth + col, class 0 = background), for count x H x W x C images.
 */
export function predictClassMaps(
  model: tf.LayersModel,
  images: Float32Array,
  count: number,
  batchSize = 256,
): Float32Array {
  return predictMaps(model, images, count, batchSize, false).classMaps;
}

/** Class maps as predictClassMaps gives them, and box maps: dx, dy (sigmoid), log(w / stride), log(h / stride). */
export function predictDetectorMaps(
  model: tf.LayersModel,
  images: Float32Array,
  count: number,
  batchSize = 256,
): DetectorMaps {
  return predictMaps(model, images, count, batchSize, true);
}
