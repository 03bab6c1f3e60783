/** Batched inference: softmax probabilities of a model for a block of samples. */
import * as tf from '@tensorflow/tfjs';

/**
 * Images per forward pass inside model.predict. tfjs splits predict input into
 * 32-image batches by default; on tfjs-node cnn-small runs 128-image batches
 * ~1.7x faster per image (bench/kernel-profile.ts: 47.9 -> 27.4 ms per 128
 * images). Inputs larger than CIFAR's keep 32 to bound activation memory.
 */
export function forwardBatchSize(shape: readonly [number, number, number]): number {
  return shape[0] * shape[1] * shape[2] <= 32 * 32 * 3 ? 128 : 32;
}

/** Returns count x numClasses probabilities (row-major) for count x H x W x C images. */
export function predictProbabilities(
  model: tf.LayersModel,
  images: Float32Array,
  count: number,
  shape: readonly [number, number, number],
  batchSize = 512,
): Float32Array {
  const [h, w, c] = shape;
  const sampleSize = h * w * c;
  const outputShape = model.outputs[0].shape;
  const numClasses = outputShape[outputShape.length - 1] as number;
  const out = new Float32Array(count * numClasses);
  const forwardBatch = forwardBatchSize(shape);
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start);
    const probabilities = tf.tidy(() => {
      const xs = tf.tensor4d(images.subarray(start * sampleSize, (start + size) * sampleSize), [size, h, w, c]);
      return tf.softmax(model.predict(xs, { batchSize: forwardBatch }) as tf.Tensor);
    });
    out.set(probabilities.dataSync() as Float32Array, start * numClasses);
    probabilities.dispose();
  }
  return out;
}
