/**
 * The forward pass of a training step. On tfjs-node with winnow's native ops
 * a Sequential model's "conv2d(relu, bias) then 2x2 max pool" pairs run as
 * Conv2D plus one WinnowBiasReluPool op, whose gradient is one
 * WinnowBiasReluPoolGrad op plus BiasAddGrad; and Dense(relu, bias) layers as
 * MatMul plus WinnowBiasAddRelu, with ReluGrad plus BiasAddGrad back. In
 * training tfjs unfuses these into Add, Relu and MaxPool forward and
 * MaxPoolGrad, ReluGrad, the Add's gradient backward: full passes over the
 * largest tensors of a step, each with ~50-85 us of fixed cost per op.
 * The same float operations in the same order, so the same loss, gradients
 * and weights bit for bit; the model (layers, weights, checkpoints) is
 * untouched: this reads its variables.
 *
 * The first block, when its input has one channel (grey images) and the
 * convolution has stride 1, runs as one WinnowConvIn1BiasReluPool op whose
 * gradient is one WinnowConvIn1BiasReluPoolGrad (filter and bias gradients
 * from the pooled gradient, without the full-size convolution output or its
 * gradient). Not bit for bit: the convolution sums its taps in another order
 * (tests bound the difference). Its input is the batch, so no gradient flows
 * to it: applyForTraining differentiates the weights only.
 *
 * Any other layer, model or backend runs through model.apply.
 */
import * as tf from '@tensorflow/tfjs';
import { loadWinnowTfOps } from '../compute/tfjs-node-native-ops';
import { biasAddGrad, intAttr, nodeBackend, reluGrad } from '../compute/tfjs-node-ops';

/** The layer configuration fields read here (tfjs-layers' getConfig). */
interface LayerConfig {
  activation?: string;
  useBias?: boolean;
  dataFormat?: string;
  padding?: string;
  strides?: number | number[];
  dilationRate?: number | number[];
  poolSize?: number | number[];
  kernelSize?: number | number[];
}

type Step =
  | { kind: 'conv-relu-pool'; conv: tf.layers.Layer; strides: [number, number]; padding: 'same' | 'valid'; dilations: [number, number] }
  | { kind: 'dense-relu'; dense: tf.layers.Layer }
  | { kind: 'layer'; layer: tf.layers.Layer };

function pair(v: number | number[] | undefined | null, fallback: number): [number, number] {
  if (v === undefined || v === null) return [fallback, fallback];
  return typeof v === 'number' ? [v, v] : [v[0], v.length > 1 ? v[1] : v[0]];
}

function isPool2x2(layer: tf.layers.Layer | undefined): boolean {
  if (!layer || layer.getClassName() !== 'MaxPooling2D') return false;
  const c = layer.getConfig() as LayerConfig;
  const size = pair(c.poolSize, 2);
  const strides = pair(c.strides, size[0]);
  return size[0] === 2 && size[1] === 2 && strides[0] === 2 && strides[1] === 2 && c.padding === 'valid' && c.dataFormat === 'channelsLast';
}

/** The steps of a Sequential model, or null when it is not one. */
function planFor(model: tf.LayersModel): Step[] | null {
  if (model.getClassName() !== 'Sequential') return null;
  const steps: Step[] = [];
  const layers = model.layers;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    const c = layer.getConfig() as LayerConfig;
    const name = layer.getClassName();
    const reluWithBias = c.activation === 'relu' && c.useBias === true && layer.trainableWeights.length === 2;
    if (name === 'Conv2D' && reluWithBias && c.dataFormat === 'channelsLast' && isPool2x2(layers[i + 1])) {
      const padding = c.padding === 'same' ? 'same' : c.padding === 'valid' ? 'valid' : undefined;
      if (padding) {
        steps.push({ kind: 'conv-relu-pool', conv: layer, strides: pair(c.strides, 1), padding, dilations: pair(c.dilationRate, 1) });
        i++;
        continue;
      }
    }
    if (name === 'Dense' && reluWithBias) {
      steps.push({ kind: 'dense-relu', dense: layer });
      continue;
    }
    steps.push({ kind: 'layer', layer });
  }
  return steps;
}

const plans = new WeakMap<tf.LayersModel, Step[] | null>();

type Binary = (x: tf.Tensor, bias: tf.Tensor) => tf.Tensor;
type CustomGradient = Parameters<typeof tf.customGrad>[0];
/** Zero padding of a convolution's spatial axes. */
interface Pads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}
/** maxpool2x2(relu(conv(x, filter) + bias)) of a one-channel batch x, stride 1; differentiable in filter and bias only. */
type FirstBlock = (x: tf.Tensor4D, filter: tf.Tensor, bias: tf.Tensor, pads: Pads) => tf.Tensor;
interface FusedOps {
  biasReluPool: Binary;
  biasRelu: Binary;
  firstBlock: FirstBlock;
}
let cached: FusedOps | null | undefined;

/** The fused ops with their gradients, when the backend is tfjs-node and the addon has them. */
function fusedOps(): FusedOps | null {
  if (tf.getBackend() !== 'tensorflow') return null;
  if (cached !== undefined) return cached;
  const ops = loadWinnowTfOps().ops;
  if (!ops) return (cached = null);
  const { biasReluPool: poolOp, biasReluPoolGrad: poolGradOp, biasAddRelu: reluOp } = ops;
  const { convIn1BiasReluPool: blockOp, convIn1BiasReluPoolGrad: blockGradOp } = ops;
  const backend = nodeBackend(tf.backend());
  const biasGrad = (dx: tf.Tensor): tf.Tensor => biasAddGrad(backend, dx);
  // customGrad's typings take inputs and the save function as one union; they are (x, bias, save).
  const biasReluPool = tf.customGrad(((x: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, slots] = backend.executeMultipleOutputs(poolOp, [], [x, bias], 2);
    save([slots]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const dx = backend.executeSingleOutput(poolGradOp, [], [dy, saved[0]]);
        return [dx, biasGrad(dx)];
      },
    };
  }) as unknown as CustomGradient) as Binary;
  const biasRelu = tf.customGrad(((x: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
    const y = backend.executeSingleOutput(reluOp, [], [x, bias]);
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        // ReluGrad masks by y > 0, the same as by x + bias > 0 (relu keeps positives, NaN fails both).
        const dx = reluGrad(backend, dy, saved[0]!);
        return [dx, biasGrad(dx)];
      },
    };
  }) as unknown as CustomGradient) as Binary;
  const firstBlock: FirstBlock = (x, filter, bias, pads) => {
    const attrs = [
      intAttr(backend, 'pad_top', pads.top),
      intAttr(backend, 'pad_bottom', pads.bottom),
      intAttr(backend, 'pad_left', pads.left),
      intAttr(backend, 'pad_right', pads.right),
    ];
    // x is closed over, not an input: it is the batch, which gets no gradient.
    const block = tf.customGrad(((filterIn: tf.Tensor, biasIn: tf.Tensor, save: tf.GradSaveFunc) => {
      const [y, slots] = backend.executeMultipleOutputs(blockOp, attrs, [x, filterIn, biasIn], 2);
      save([slots]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backend.executeMultipleOutputs(blockGradOp, attrs, [x, dy, saved[0]], 2),
      };
    }) as unknown as CustomGradient) as Binary;
    return block(filter, bias);
  };
  return (cached = { biasReluPool, biasRelu, firstBlock });
}

/**
 * The zero padding of a stride-1 convolution of x (one channel, float32) by
 * `kernel` when it can run as the fused first block: an even output height
 * and width (the pools tile it). Else null.
 */
function firstBlockPads(x: tf.Tensor, kernel: tf.Tensor, step: Extract<Step, { kind: 'conv-relu-pool' }>): Pads | null {
  const unit = (p: [number, number]) => p[0] === 1 && p[1] === 1;
  if (x.rank !== 4 || x.shape[3] !== 1 || x.dtype !== 'float32' || kernel.shape[2] !== 1) return null;
  if (!unit(step.strides) || !unit(step.dilations)) return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    kernel.shape as [number, number, number, number],
    1,
    1,
    step.padding,
  );
  if (info.outHeight % 2 !== 0 || info.outWidth % 2 !== 0) return null;
  const { top, bottom, left, right } = info.padInfo;
  return { top, bottom, left, right };
}

/** Variables of a layer with [kernel, bias] weights. */
function kernelAndBias(layer: tf.layers.Layer): [tf.Tensor, tf.Tensor] {
  const [kernel, bias] = layer.trainableWeights;
  return [kernel.read(), bias.read()];
}

/** model.apply(x, { training: true }), with the fused steps where they apply. */
export function applyForTraining(model: tf.LayersModel, x: tf.Tensor): tf.Tensor {
  const fused = fusedOps();
  if (!fused) return model.apply(x, { training: true }) as tf.Tensor;
  let plan = plans.get(model);
  if (plan === undefined) plans.set(model, (plan = planFor(model)));
  if (!plan) return model.apply(x, { training: true }) as tf.Tensor;
  let y = x;
  for (const step of plan) {
    if (step.kind === 'conv-relu-pool') {
      const [kernel, bias] = kernelAndBias(step.conv);
      const pads = y === x ? firstBlockPads(y, kernel, step) : null;
      if (pads) {
        y = fused.firstBlock(y as tf.Tensor4D, kernel, bias, pads);
        continue;
      }
      const conv = tf.conv2d(y as tf.Tensor4D, kernel as tf.Tensor4D, step.strides, step.padding, 'NHWC', step.dilations);
      // The pools tile only even sizes; otherwise the layers' own ops (bias add, relu, max pool) run.
      if (conv.dtype === 'float32' && conv.shape[1] % 2 === 0 && conv.shape[2] % 2 === 0) {
        y = fused.biasReluPool(conv, bias);
      } else {
        y = tf.maxPool(tf.relu(tf.add(conv, bias)) as tf.Tensor4D, 2, 2, 'valid');
      }
    } else if (step.kind === 'dense-relu' && y.rank === 2 && y.dtype === 'float32') {
      const [kernel, bias] = kernelAndBias(step.dense);
      y = fused.biasRelu(tf.matMul(y, kernel), bias);
    } else {
      y = (step.kind === 'layer' ? step.layer : step.dense).apply(y, { training: true }) as tf.Tensor;
    }
  }
  return y;
}
