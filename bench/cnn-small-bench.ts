/**
 * The small CNN as the throughput and kernel-profile benches train it: the
 * model (conv3x3x32 - maxpool - conv3x3x64 - maxpool - dense128 - dense10,
 * relu, 28x28x1), the product's optimizers with the benches' settings, and a
 * fixed random batch (throughput does not depend on the values).
 */
import type * as TF from '@tensorflow/tfjs';
import { createOptimizer, defaultTrainingSettings } from '../domain/ml/train';

export function buildBenchModel(tf: typeof TF, padding: 'same' | 'valid' = 'same'): TF.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, padding, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
}

/** Adam(1e-3) or momentum(0.01, 0.9) as training builds them (fused per-variable updates on tfjs-node with winnow's native ops). */
export function benchOptimizer(kind: 'momentum' | 'adam'): TF.Optimizer {
  return kind === 'adam'
    ? createOptimizer({ ...defaultTrainingSettings, optimizer: 'adam', learningRate: 1e-3 })
    : createOptimizer({ ...defaultTrainingSettings, optimizer: 'sgd-momentum', learningRate: 0.01, momentum: 0.9 });
}

/** `batch` seeded random images and one-hot labels of 10 classes. */
export function benchBatch(tf: typeof TF, batch: number): { x: TF.Tensor4D; y: TF.Tensor } {
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 1) as TF.Tensor4D;
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 2) as TF.Tensor1D, 10);
  return { x, y };
}
