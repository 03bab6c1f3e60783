/**
 * Faster kernels for the tfjs-node ('tensorflow') backend where tfjs-node
 * composes several TensorFlow ops and one op does the same work: Step, relu's
 * gradient (ReluGrad) and bias gradients (BiasAddGrad) always; with winnow's
 * native ops loaded (tfjs-node-native-ops.ts) also 2x2 MaxPool and its
 * gradient, FusedConv2D's bias + relu and per-channel bias Add. What each one
 * replaces, how much it saves and where it differs from stock (relu's
 * gradient at NaN): docs/kernels.md, "tfjs-node kernels".
 */
import type * as TF from '@tensorflow/tfjs';
import type { WinnowTfOps } from './tfjs-node-native-ops';
import { biasAddGrad, floatType, nodeBackend, reluGrad } from './tfjs-node-ops';

type Tf = typeof TF;
type KernelArgs = Parameters<TF.KernelFunc>[0];

/** Kernel name of the relu gradient; registered for the 'tensorflow' backend only. */
export const reluGradKernelName = 'WinnowReluGrad';

const ours = new WeakSet<object>();

/** Replaces a stock 'tensorflow' kernel by `fast`, which returns null where the stock kernel should run. */
function override(tf: Tf, kernelName: string, fast: (args: KernelArgs) => TF.TensorInfo | null): boolean {
  const stock = tf.getKernel(kernelName, 'tensorflow');
  if (!stock || ours.has(stock.kernelFunc)) return false;
  const kernelFunc = ((args: KernelArgs) => fast(args) ?? stock.kernelFunc(args)) as TF.KernelFunc;
  ours.add(kernelFunc);
  tf.unregisterKernel(kernelName, 'tensorflow');
  tf.registerKernel({ ...stock, kernelFunc });
  return true;
}

function step(tf: Tf, args: KernelArgs): TF.TensorInfo | null {
  const x = args.inputs.x as TF.TensorInfo;
  if (x.dtype !== 'float32' || (args.attrs?.alpha ?? 0) !== 0) return null;
  const backend = nodeBackend(args.backend);
  const { TF_ATTR_TYPE, TF_ATTR_BOOL, TF_FLOAT, TF_BOOL } = backend.binding;
  const float = floatType(backend);
  return tf.tidy(() => {
    const zero = tf.scalar(0, 'float32');
    const positive = backend.executeSingleOutput('Greater', [float], [x, zero]);
    const ones = backend.executeSingleOutput(
      'Cast',
      [
        { name: 'SrcT', type: TF_ATTR_TYPE, value: TF_BOOL },
        { name: 'DstT', type: TF_ATTR_TYPE, value: TF_FLOAT },
        { name: 'Truncate', type: TF_ATTR_BOOL, value: false },
      ],
      [positive],
    );
    const nan = backend.executeSingleOutput('IsNan', [float], [x]);
    return backend.executeSingleOutput('Select', [float], [nan, x, ones]);
  });
}

/** Sum over axes 0..rank-2 without keepDims is a bias gradient: BiasAddGrad sums all but the last axis. */
function sum(tf: Tf, args: KernelArgs): TF.TensorInfo | null {
  const x = args.inputs.x as TF.TensorInfo;
  const rank = x.shape.length;
  if (x.dtype !== 'float32' || rank < 2 || args.attrs?.keepDims) return null;
  const axes = tf.util.parseAxisParam(args.attrs?.axis as number | number[], x.shape);
  if (axes.length !== rank - 1 || [...axes].sort((a, b) => a - b).some((axis, i) => axis !== i)) return null;
  return biasAddGrad(nodeBackend(args.backend), x);
}

/** 2x2 windows at stride 2 that tile an NHWC float input with even H and W exactly (TensorFlow's 'same' equals 'valid' there). */
function tiles2x2(tf: Tf, input: TF.TensorInfo, attrs: TF.MaxPoolAttrs): boolean {
  if (input.dtype !== 'float32' || input.shape.length !== 4) return false;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  return (
    info.filterHeight === 2 &&
    info.filterWidth === 2 &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.inHeight % 2 === 0 &&
    info.inWidth % 2 === 0 &&
    info.outHeight * 2 === info.inHeight &&
    info.outWidth * 2 === info.inWidth &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0
  );
}

function maxPoolGrad(tf: Tf, args: KernelArgs, op: string): TF.TensorInfo | null {
  const { dy, input } = args.inputs as { dy: TF.TensorInfo; input: TF.TensorInfo };
  if (dy.dtype !== 'float32' || !tiles2x2(tf, input, args.attrs as unknown as TF.MaxPoolAttrs)) return null;
  return nodeBackend(args.backend).executeSingleOutput(op, [], [input, dy]);
}

function maxPool(tf: Tf, args: KernelArgs, op: string): TF.TensorInfo | null {
  const x = args.inputs.x as TF.TensorInfo;
  if (!tiles2x2(tf, x, args.attrs as unknown as TF.MaxPoolAttrs)) return null;
  return nodeBackend(args.backend).executeSingleOutput(op, [], [x]);
}

/** x + bias where bias is 1-d and as long as x's last axis. */
function biasAdd(args: KernelArgs, op: string): TF.TensorInfo | null {
  const { a, b } = args.inputs as { a: TF.TensorInfo; b: TF.TensorInfo };
  const rank = a.shape.length;
  if (
    a.dtype !== 'float32' ||
    b.dtype !== 'float32' ||
    rank < 2 ||
    b.shape.length !== 1 ||
    b.shape[0] !== a.shape[rank - 1]
  )
    return null;
  return nodeBackend(args.backend).executeSingleOutput(op, [], [a, b]);
}

/** conv2d + bias + relu: the stock Conv2D kernel, then bias and relu in one pass. */
function fusedConv2D(args: KernelArgs, conv2D: TF.KernelFunc, op: string): TF.TensorInfo | null {
  const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TF.TensorInfo | undefined>;
  const attrs = args.attrs as unknown as TF.FusedConv2DAttrs;
  if (attrs.activation !== 'relu' || !x || !filter || !bias || preluActivationWeights || attrs.dataFormat !== 'NHWC')
    return null;
  if (
    [x, filter, bias].some((t) => t.dtype !== 'float32') ||
    bias.shape.length !== 1 ||
    bias.shape[0] !== filter.shape[3]
  )
    return null;
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs;
  const conv = conv2D({
    inputs: { x, filter },
    backend: args.backend,
    attrs: { strides, pad, dataFormat, dilations, dimRoundingMode },
  }) as TF.Tensor;
  const out = nodeBackend(args.backend).executeSingleOutput(op, [], [conv, bias]);
  conv.dispose();
  return out;
}

function reluGradKernel(args: KernelArgs): TF.TensorInfo {
  const { dy, x } = args.inputs as { dy: TF.TensorInfo; x: TF.TensorInfo };
  return reluGrad(nodeBackend(args.backend), dy, x);
}

/** Routes Relu's gradient to ReluGrad where the active backend has it (float32 only); elsewhere the stock gradient runs. */
function overrideReluGradient(tf: Tf): boolean {
  const stock = tf.getGradient('Relu');
  if (!stock || ours.has(stock.gradFunc)) return false;
  const gradFunc: TF.GradFunc = (dy, saved, attrs) => {
    const [x] = saved;
    const fast =
      !Array.isArray(dy) &&
      dy.dtype === 'float32' &&
      x.dtype === 'float32' &&
      tf.getKernel(reluGradKernelName, tf.getBackend()) !== undefined;
    if (!fast) return stock.gradFunc(dy, saved, attrs);
    return { x: () => tf.engine().runKernel(reluGradKernelName, { dy, x }) as TF.Tensor };
  };
  ours.add(gradFunc);
  tf.registerGradient({ ...stock, gradFunc });
  return true;
}

/**
 * Registers the kernels for the 'tensorflow' backend of this tfjs instance;
 * `native` (loadWinnowTfOps) adds those that need winnow's TensorFlow ops.
 * Idempotent; returns the names registered.
 */
export function registerTfjsNodeKernels(tf: Tf, native?: WinnowTfOps): string[] {
  if (!tf.getKernel('Step', 'tensorflow')) return [];
  const done: string[] = [];
  if (override(tf, 'Step', (args) => step(tf, args))) done.push('Step');
  if (override(tf, 'Sum', (args) => sum(tf, args))) done.push('Sum');
  if (native) {
    if (override(tf, 'MaxPoolGrad', (args) => maxPoolGrad(tf, args, native.maxPool2x2Grad))) done.push('MaxPoolGrad');
    if (override(tf, 'MaxPool', (args) => maxPool(tf, args, native.maxPool2x2))) done.push('MaxPool');
    if (override(tf, 'Add', (args) => biasAdd(args, native.biasAdd))) done.push('Add');
    const conv2D = tf.getKernel('Conv2D', 'tensorflow')?.kernelFunc;
    if (conv2D && override(tf, 'FusedConv2D', (args) => fusedConv2D(args, conv2D, native.biasAddRelu)))
      done.push('FusedConv2D');
  }
  if (!tf.getKernel(reluGradKernelName, 'tensorflow')) {
    tf.registerKernel({
      kernelName: reluGradKernelName,
      backendName: 'tensorflow',
      kernelFunc: reluGradKernel as TF.KernelFunc,
    });
    done.push(reluGradKernelName);
  }
  if (overrideReluGradient(tf)) done.push('Relu gradient');
  return done;
}
