/**
 * The forward pass of a training step. Where a backend has winnow's fused
 * kernels, a Sequential model's conv(relu, bias) + 2x2 max-pool blocks and
 * Dense(relu, bias) layers run as fused ops with their own gradients (on
 * tfjs-node the native ops, on wasm the WinnowBiasReluPool pair and the
 * routed conv-block gradients); any other layer, model or backend runs
 * through model.apply. The model itself (layers, weights, checkpoints) is
 * untouched: this reads its variables. Which paths are bit for bit the
 * layers' results, and why the others are not: docs/kernels.md, "Fused
 * training forward pass".
 */
import * as tf from '@tensorflow/tfjs';
import { loadWinnowTfOps } from '../../kernels/tfjs-node/tfjs-node-native-ops';
import { biasAddGrad, intAttr, nodeBackend, reluGrad } from '../../kernels/tfjs-node/tfjs-node-ops';
import { routedConvBlockSupported } from '../../kernels/wasm/routed-conv-block';

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
  | {
      kind: 'conv-relu-pool';
      conv: tf.layers.Layer;
      strides: [number, number];
      padding: 'same' | 'valid';
      dilations: [number, number];
    }
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
  return (
    size[0] === 2 &&
    size[1] === 2 &&
    strides[0] === 2 &&
    strides[1] === 2 &&
    c.padding === 'valid' &&
    c.dataFormat === 'channelsLast'
  );
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
        steps.push({
          kind: 'conv-relu-pool',
          conv: layer,
          strides: pair(c.strides, 1),
          padding,
          dilations: pair(c.dilationRate, 1),
        });
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
/** maxpool2x2(relu(conv(x, filter) + bias)), stride 1; differentiable in x too unless x is the batch. */
type ConvBlock = (
  x: tf.Tensor4D,
  filter: tf.Tensor,
  bias: tf.Tensor,
  padding: 'same' | 'valid',
  pads: Pads,
  isBatch: boolean,
) => tf.Tensor;
/** A backend's fused ops; an absent one means the layers' (or the conv tail's) path. */
interface FusedOps {
  biasReluPool: Binary;
  biasRelu?: Binary;
  firstBlock?: FirstBlock;
  convBlock?: ConvBlock;
}
let cached: FusedOps | null | undefined;
let wasmOps: FusedOps | undefined;

/** The fused ops with their gradients for the current backend: tfjs-node with the addon's ops, or wasm with winnow's kernels registered. */
function fusedOps(): FusedOps | null {
  const backendName = tf.getBackend();
  if (backendName === 'wasm') return tf.getKernel('WinnowBiasReluPool', 'wasm') ? (wasmOps ??= wasmFusedOps()) : null;
  if (backendName !== 'tensorflow') return null;
  if (cached !== undefined) return cached;
  const ops = loadWinnowTfOps().ops;
  if (!ops) return (cached = null);
  const { biasReluPool: poolOp, biasReluPoolGrad: poolGradOp, biasAddRelu: reluOp } = ops;
  const {
    convIn1BiasReluPool: blockOp,
    convIn1BiasReluPoolGrad: blockGradOp,
    convPoolFilterGrad: filterGradOp,
    convPoolInputGrad: inputGradOp,
  } = ops;
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
  const padAttrs = (pads: Pads) => [
    intAttr(backend, 'pad_top', pads.top),
    intAttr(backend, 'pad_bottom', pads.bottom),
    intAttr(backend, 'pad_left', pads.left),
    intAttr(backend, 'pad_right', pads.right),
  ];
  const firstBlock: FirstBlock = (x, filter, bias, pads) => {
    const attrs = padAttrs(pads);
    // x is not an input: it is the batch, which gets no gradient. Saved all the same: engine.gradients
    // runs the forward pass in a tidy that frees a batch made inside the minimised function.
    const block = tf.customGrad(((filterIn: tf.Tensor, biasIn: tf.Tensor, save: tf.GradSaveFunc) => {
      const [y, slots] = backend.executeMultipleOutputs(blockOp, attrs, [x, filterIn, biasIn], 2);
      save([slots, x]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, [saved, xSaved]: tf.Tensor[]) =>
          backend.executeMultipleOutputs(blockGradOp, attrs, [xSaved, dy, saved], 2),
      };
    }) as unknown as CustomGradient) as Binary;
    return block(filter, bias);
  };
  const convBlock = routedConvBlock({
    tail: (conv, biasIn) => backend.executeMultipleOutputs(poolOp, [], [conv, biasIn], 2) as [tf.Tensor, tf.Tensor],
    filterGrads: (x, dy, slots, pads) =>
      backend.executeMultipleOutputs(filterGradOp, padAttrs(pads), [x, dy, slots], 2),
    inputGrad: (dy, slots, filter, pads) =>
      backend.executeSingleOutput(inputGradOp, padAttrs(pads), [dy, slots, filter]),
  });
  return (cached = { biasReluPool, biasRelu, firstBlock, convBlock });
}

/**
 * A backend's kernels for routedConvBlock. The routing tensor is each backend's
 * own int32 encoding of the winning slot and relu's mask (tfjs-node: slot | 4
 * when masked; wasm: see kernels/wasm/pool-windows.ts); only its own kernels read it.
 */
interface ConvBlockKernels {
  /** maxpool2x2(relu(conv + bias)) and the routing of each pooled value. */
  tail(conv: tf.Tensor, bias: tf.Tensor): [tf.Tensor, tf.Tensor];
  /** [filter gradient, bias gradient] from the pooled gradient and the routing. */
  filterGrads(x: tf.Tensor, dy: tf.Tensor, routing: tf.Tensor, pads: Pads): tf.Tensor[];
  /** The input gradient from the pooled gradient and the routing. */
  inputGrad(dy: tf.Tensor, routing: tf.Tensor, filter: tf.Tensor, pads: Pads): tf.Tensor;
}

/**
 * A stride-1 conv block whose gradients come straight from the pooled
 * gradient and the convolution outputs it is routed to: Conv2D and the tail
 * forward; the kernels' filter, bias and input gradients backward.
 */
function routedConvBlock(kernels: ConvBlockKernels): ConvBlock {
  return (x, filter, bias, padding, pads, isBatch) => {
    // Saves [routing, x]: engine.gradients runs the forward pass in a tidy that frees every intermediate
    // (x among them, and the batch too when the minimised function makes it).
    const forward = (filterIn: tf.Tensor, biasIn: tf.Tensor, save: tf.GradSaveFunc) => {
      const conv = tf.conv2d(x, filterIn as tf.Tensor4D, 1, padding);
      const [y, routing] = kernels.tail(conv, biasIn);
      conv.dispose();
      save([routing, x]);
      return y;
    };
    const filterGrads = (dy: tf.Tensor, [routing, xSaved]: tf.Tensor[]) =>
      kernels.filterGrads(xSaved, dy, routing, pads);
    if (isBatch) {
      // x is not an input: it is the batch, which gets no gradient.
      const block = tf.customGrad(((filterIn: tf.Tensor, biasIn: tf.Tensor, save: tf.GradSaveFunc) => ({
        value: forward(filterIn, biasIn, save),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => filterGrads(dy, saved),
      })) as unknown as CustomGradient) as Binary;
      return block(filter, bias);
    }
    const block = tf.customGrad(((_x: tf.Tensor, filterIn: tf.Tensor, biasIn: tf.Tensor, save: tf.GradSaveFunc) => ({
      value: forward(filterIn, biasIn, save),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        kernels.inputGrad(dy, saved[0], filterIn, pads),
        ...filterGrads(dy, saved),
      ],
    })) as unknown as CustomGradient) as (x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor) => tf.Tensor;
    return block(x, filter, bias);
  };
}

/**
 * The zero padding of a stride-1 convolution of x (float32) by `kernel` when
 * it can run as a fused block: an even output height and width (the pools
 * tile it). Else null.
 */
function blockPads(x: tf.Tensor, kernel: tf.Tensor, step: Extract<Step, { kind: 'conv-relu-pool' }>): Pads | null {
  const unit = (p: [number, number]) => p[0] === 1 && p[1] === 1;
  if (x.rank !== 4 || x.dtype !== 'float32' || kernel.shape[2] !== x.shape[3]) return null;
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

/**
 * The wasm kernels registered by registerWasmKernels: the conv tail as a
 * kernel pair (the saved routing codes are int32, one per pooled value), and
 * stride-1 blocks with the routed filter, bias and input gradients
 * (kernels/wasm/conv-pool-*-grad.ts) where the input channels allow.
 */
function wasmFusedOps(): FusedOps {
  const run = (name: string, inputs: tf.NamedTensorMap, attrs: object = {}) =>
    tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap);
  const biasReluPool = tf.customGrad(((x: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, codes] = run('WinnowBiasReluPool', { x, bias }) as tf.Tensor[];
    save([codes]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        run('WinnowBiasReluPoolGrad', { dy, code: saved[0] }) as tf.Tensor[],
    };
  }) as unknown as CustomGradient) as Binary;
  const routed = routedConvBlock({
    tail: (x, bias) => run('WinnowBiasReluPool', { x, bias }) as [tf.Tensor, tf.Tensor],
    filterGrads: (x, dy, code, pads) => run('WinnowConvPoolFilterGrad', { x, dy, code }, pads) as tf.Tensor[],
    inputGrad: (dy, code, filter, pads) => run('WinnowConvPoolInputGrad', { dy, code, filter }, pads) as tf.Tensor,
  });
  const convBlock: ConvBlock = (x, filter, bias, padding, pads, isBatch) =>
    routedConvBlockSupported(tf.backend(), x.shape[3])
      ? routed(x, filter, bias, padding, pads, isBatch)
      : biasReluPool(tf.conv2d(x, filter as tf.Tensor4D, 1, padding), bias);
  return { biasReluPool, convBlock };
}

/** Variables of a layer with [kernel, bias] weights. */
function kernelAndBias(layer: tf.layers.Layer): [tf.Tensor, tf.Tensor] {
  const [kernel, bias] = layer.trainableWeights;
  return [kernel.read(), bias.read()];
}

/**
 * model.apply(x, { training: true }), with the fused steps where they apply.
 * For the weights' gradients only: x (the batch) gets no gradient through a fused block.
 */
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
      const pads = blockPads(y, kernel, step);
      const isBatch = y === x;
      if (pads && isBatch && y.shape[3] === 1 && fused.firstBlock) {
        y = fused.firstBlock(y as tf.Tensor4D, kernel, bias, pads);
        continue;
      }
      if (pads && fused.convBlock) {
        y = fused.convBlock(y as tf.Tensor4D, kernel, bias, step.padding, pads, isBatch);
        continue;
      }
      const conv = tf.conv2d(
        y as tf.Tensor4D,
        kernel as tf.Tensor4D,
        step.strides,
        step.padding,
        'NHWC',
        step.dilations,
      );
      // The pools tile only even sizes; otherwise the layers' own ops (bias add, relu, max pool) run.
      if (conv.dtype === 'float32' && conv.shape[1] % 2 === 0 && conv.shape[2] % 2 === 0) {
        y = fused.biasReluPool(conv, bias);
      } else {
        y = tf.maxPool(tf.relu(tf.add(conv, bias)) as tf.Tensor4D, 2, 2, 'valid');
      }
    } else if (step.kind === 'dense-relu' && fused.biasRelu && y.rank === 2 && y.dtype === 'float32') {
      const [kernel, bias] = kernelAndBias(step.dense);
      y = fused.biasRelu(tf.matMul(y, kernel), bias);
    } else {
      y = (step.kind === 'layer' ? step.layer : step.dense).apply(y, { training: true }) as tf.Tensor;
    }
  }
  return y;
}
