/**
 * The model registry. Every model maps images [N, H, W, C] to logits
 * [N, classes] (softmax is applied by callers). Same name, shape, width and
 * seed give the same initial weights on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { type modelNames } from '../../contracts/config';

export type ModelName = (typeof modelNames)[number];
type Initializer = ReturnType<typeof tf.initializers.glorotUniform>;

export interface ModelSpec {
  name: ModelName;
  inputShape: [number, number, number];
  numClasses: number;
  /** Multiplies every layer's channel count (1 = the published size). */
  width?: number;
  seed: number;
}

/** Hands out a distinct, reproducible seed per layer. */
export class LayerSeeds {
  private next: number;
  constructor(seed: number) {
    this.next = (seed * 7919 + 17) >>> 0;
  }
  take(): number {
    this.next = (Math.imul(this.next, 1103515245) + 12345) >>> 0;
    return this.next % 2147483647;
  }
}

export function channels(base: number, width: number): number {
  return Math.max(1, Math.round(base * width));
}

export function buildModel(spec: ModelSpec): tf.LayersModel {
  if (!Number.isInteger(spec.numClasses) || spec.numClasses < 2) {
    throw new Error(`model ${spec.name}: numClasses must be an integer >= 2 (got ${spec.numClasses})`);
  }
  const width = spec.width ?? 1;
  if (!(width > 0)) throw new Error(`model ${spec.name}: width must be > 0 (got ${width})`);
  const seeds = new LayerSeeds(spec.seed);
  switch (spec.name) {
    case 'cnn-small':
      return cnnSmall(spec, width, seeds);
    case 'resnet18-cifar':
      return resnet18(spec, width, seeds, 'cifar');
    case 'resnet18-imagenet':
      return resnet18(spec, width, seeds, 'imagenet');
    case 'linear':
      return linear(spec, seeds);
  }
}

/**
 * Softmax regression, flatten - dense(classes): the cheapest model that learns, for pools of millions in the
 * scale bench and for quick runs. It has no channels, so the width does not change it.
 */
function linear(spec: ModelSpec, seeds: LayerSeeds): tf.LayersModel {
  return tf.sequential({
    name: 'linear',
    layers: [
      tf.layers.flatten({ inputShape: spec.inputShape }),
      tf.layers.dense({
        units: spec.numClasses,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.take() }),
      }),
    ],
  });
}

/** conv3x3x32 - maxpool - conv3x3x64 - maxpool - dense128 - dense(classes): the MNIST-size model. */
function cnnSmall(spec: ModelSpec, width: number, seeds: LayerSeeds): tf.LayersModel {
  const init = (): Initializer => tf.initializers.glorotUniform({ seed: seeds.take() });
  return tf.sequential({
    name: 'cnn-small',
    layers: [
      tf.layers.conv2d({
        inputShape: spec.inputShape,
        filters: channels(32, width),
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({
        filters: channels(64, width),
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: channels(128, width), activation: 'relu', kernelInitializer: init() }),
      tf.layers.dense({ units: spec.numClasses, kernelInitializer: init() }),
    ],
  });
}

/**
 * ResNet-18 (basic blocks, [2, 2, 2, 2]). The CIFAR variant has a 3x3 stem and
 * no stem pooling; the ImageNet variant a 7x7 stride-2 stem and a max pool.
 */
function resnet18(spec: ModelSpec, width: number, seeds: LayerSeeds, variant: 'cifar' | 'imagenet'): tf.LayersModel {
  const init = (): Initializer => tf.initializers.heNormal({ seed: seeds.take() });
  const conv = (x: tf.SymbolicTensor, filters: number, kernelSize: number, strides: number): tf.SymbolicTensor =>
    tf.layers
      .conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init() })
      .apply(x) as tf.SymbolicTensor;
  const bn = (x: tf.SymbolicTensor): tf.SymbolicTensor =>
    tf.layers.batchNormalization({ momentum: 0.9 }).apply(x) as tf.SymbolicTensor;
  const relu = (x: tf.SymbolicTensor): tf.SymbolicTensor => tf.layers.reLU().apply(x) as tf.SymbolicTensor;

  const block = (x: tf.SymbolicTensor, filters: number, strides: number): tf.SymbolicTensor => {
    let y = relu(bn(conv(x, filters, 3, strides)));
    y = bn(conv(y, filters, 3, 1));
    const inChannels = x.shape[x.shape.length - 1];
    const shortcut = strides !== 1 || inChannels !== filters ? bn(conv(x, filters, 1, strides)) : x;
    return relu(tf.layers.add().apply([y, shortcut]) as tf.SymbolicTensor);
  };

  const input = tf.input({ shape: spec.inputShape });
  let x: tf.SymbolicTensor;
  if (variant === 'cifar') {
    x = relu(bn(conv(input, channels(64, width), 3, 1)));
  } else {
    x = relu(bn(conv(input, channels(64, width), 7, 2)));
    x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  }
  [64, 128, 256, 512].forEach((base, stage) => {
    const filters = channels(base, width);
    x = block(x, filters, stage === 0 ? 1 : 2);
    x = block(x, filters, 1);
  });
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({ units: spec.numClasses, kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.take() }) })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ name: `resnet18-${variant}`, inputs: input, outputs: logits });
}
