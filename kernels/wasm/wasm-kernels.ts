/**
 * Convolution gradient kernels for the wasm backend, which (tfjs-backend-wasm
 * 4.22) has no Conv2DBackpropFilter and no depthwise gradients, and whose
 * Conv2DBackpropInput is a direct loop (about 10x slower than the rewrite
 * below on a 128x14x14x64 gradient). Each one is rewritten as a
 * stride-1 convolution run by the backend's own XNNPACK kernels:
 *
 * - filter gradient: correlate the input (batch and channel axes swapped) with
 *   the output gradient used as a filter, dilated by the forward stride;
 * - input gradient: correlate the output gradient (zero-stuffed by the stride,
 *   padded) with the spatially flipped, in/out-swapped filter.
 *
 * Others replace slow stock paths (withoutTransposes, sumLeadingAxes, and
 * maxPoolGrad in wasm-pool-kernels.ts, which also has the fused conv tail).
 *
 * Kernels call other wasm kernels directly on TensorInfos (below the engine, so
 * nothing is taped or tracked) and free every intermediate they make.
 */
import type * as TF from '@tensorflow/tfjs';
import {
  biasReluPool,
  biasReluPoolGrad,
  filterGradientOneChannel,
  maxPoolGrad,
  type WasmHeapAccess,
} from './wasm-pool-kernels';
import { convPoolFilterGrad, convPoolInputGrad } from './wasm-conv-block-kernels';

type Tf = typeof TF;
type Info = TF.TensorInfo;
type Attrs = Record<string, unknown>;
type Pair = [number, number];
type Conv2DInfo = ReturnType<typeof TF.backend_util.computeConv2DInfo>;

/** Runs wasm kernels and remembers their outputs so they can all be freed. */
class Scratch {
  private readonly made: Info[] = [];

  constructor(
    private readonly tf: Tf,
    private readonly backend: TF.KernelBackend,
  ) {}

  run(name: string, inputs: Record<string, Info>, attrs: Attrs = {}): Info {
    const kernel = this.tf.getKernel(name, 'wasm');
    if (!kernel) throw new Error(`the wasm backend has no ${name} kernel, which the convolution gradients need`);
    const out = kernel.kernelFunc({
      inputs: inputs as TF.NamedTensorInfoMap,
      backend: this.backend,
      attrs: attrs as TF.NamedAttrMap,
    });
    const info = (Array.isArray(out) ? out[0] : out) as Info;
    this.made.push(info);
    return info;
  }

  reshape(x: Info, shape: number[]): Info {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: Info, perm: number[]): Info {
    return this.run('Transpose', { x }, { perm });
  }

  /** Takes an output made outside run() into the set freed by finish() and abandon(). */
  adopt(info: Info): Info {
    this.made.push(info);
    return info;
  }

  /** Frees every intermediate but `result` (a reshape keeps its source's data alive by reference count). */
  finish(result: Info): Info {
    for (const info of this.made) if (info !== result) this.backend.disposeData(info.dataId);
    return result;
  }

  /** Frees everything made so far (on a failure). */
  abandon(): void {
    for (const info of this.made) this.backend.disposeData(info.dataId);
  }
}

/**
 * Padding before/after one spatial axis that makes a stride-1 correlation of a
 * length-`length` input with a `taps`-long filter (dilated by `dilation`) give
 * `outLength` outputs, starting `before` positions before the input. The
 * after-side may come out negative: those input positions are never used.
 */
export function correlationPadding(
  length: number,
  taps: number,
  dilation: number,
  before: number,
  outLength: number,
): Pair {
  const extent = (taps - 1) * dilation + 1;
  return [before, outLength - 1 + extent - length - before];
}

/** Splits a (possibly negative) padding into a crop of the input and a non-negative pad. */
export function splitPadding([before, after]: Pair): { crop: Pair; pad: Pair } {
  return { crop: [Math.max(0, -before), Math.max(0, -after)], pad: [Math.max(0, before), Math.max(0, after)] };
}

function runCorrelation(
  s: Scratch,
  kernelName: 'Conv2D' | 'DepthwiseConv2dNative',
  x: Info,
  filter: Info,
  dilations: Pair,
  padH: Pair,
  padW: Pair,
): Info {
  const h = splitPadding(padH);
  const w = splitPadding(padW);
  let input = x;
  if (h.crop[0] + h.crop[1] + w.crop[0] + w.crop[1] > 0) {
    const [b, height, width, c] = x.shape;
    input = s.run(
      'Slice',
      { x },
      {
        begin: [0, h.crop[0], w.crop[0], 0],
        size: [b, height - h.crop[0] - h.crop[1], width - w.crop[0] - w.crop[1], c],
      },
    );
  }
  return s.run(
    kernelName,
    { x: input, filter },
    {
      strides: [1, 1],
      dilations,
      pad: [[0, 0], h.pad, w.pad, [0, 0]],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    },
  );
}

/** Inserts stride-1 zeros after every row and column of an NHWC tensor (trailing ones included). */
function zeroStuff(s: Scratch, dy: Info, strideH: number, strideW: number): Info {
  if (strideH === 1 && strideW === 1) return dy;
  const [b, oh, ow, c] = dy.shape;
  let t = dy;
  if (strideW > 1) {
    t = s.reshape(t, [b * oh, ow, 1, c]);
    t = s.run(
      'PadV2',
      { x: t },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, strideW - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
  }
  const rowLength = ow * strideW * c;
  if (strideH > 1) {
    t = s.reshape(t, [b, oh, 1, rowLength]);
    t = s.run(
      'PadV2',
      { x: t },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, strideH - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
  }
  return s.reshape(t, [b, oh * strideH, ow * strideW, c]);
}

function convInfo(tf: Tf, xShape: number[], filterShape: number[], attrs: Attrs, depthwise: boolean): Conv2DInfo {
  const dilations = (attrs.dilations ?? 1) as number | Pair;
  if (!(dilations === 1 || (Array.isArray(dilations) && dilations[0] === 1 && dilations[1] === 1))) {
    throw new Error(`wasm convolution gradients support dilation 1 only, got ${JSON.stringify(dilations)}`);
  }
  const format = (attrs.dataFormat ?? 'NHWC') as string;
  if (format !== 'NHWC' && format !== 'channelsLast') {
    throw new Error(`wasm convolution gradients support NHWC data only, got dataFormat ${format}`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | Pair,
    1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    depthwise,
  );
}

function guarded(tf: Tf, backend: TF.KernelBackend, body: (s: Scratch) => Info): Info {
  const s = new Scratch(tf, backend);
  try {
    return s.finish(body(s));
  } catch (err) {
    s.abandon();
    throw err;
  }
}

function conv2DBackpropFilter(
  tf: Tf,
  args: { inputs: TF.NamedTensorInfoMap; backend: TF.KernelBackend; attrs?: TF.NamedAttrMap },
): Info {
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  const attrs = (args.attrs ?? {}) as Attrs;
  const info = convInfo(tf, x.shape, attrs.filterShape as number[], attrs, false);
  if (info.inChannels === 1 && info.strideHeight === 1 && info.strideWidth === 1) {
    // One input channel (a first layer): the correlation below has a whole image as its filter and a
    // 3x3 output, which XNNPACK runs at ~1 GFLOP/s; a SIMD loop over the padded input is ~4x faster.
    const out = filterGradientOneChannel(
      args.backend,
      x,
      dy,
      info.filterHeight,
      info.filterWidth,
      info.padInfo.top,
      info.padInfo.left,
    );
    if (out) return out;
  }
  return guarded(tf, args.backend, (s) => {
    const xt = s.transpose(x, [3, 1, 2, 0]); // [inC, H, W, batch]
    const dyt = s.transpose(dy, [1, 2, 0, 3]); // [outH, outW, batch, outC]
    const padH = correlationPadding(
      info.inHeight,
      info.outHeight,
      info.strideHeight,
      info.padInfo.top,
      info.filterHeight,
    );
    const padW = correlationPadding(info.inWidth, info.outWidth, info.strideWidth, info.padInfo.left, info.filterWidth);
    const g = runCorrelation(s, 'Conv2D', xt, dyt, [info.strideHeight, info.strideWidth], padH, padW); // [inC, kH, kW, outC]
    return s.transpose(g, [1, 2, 0, 3]);
  });
}

function conv2DBackpropInput(
  tf: Tf,
  args: { inputs: TF.NamedTensorInfoMap; backend: TF.KernelBackend; attrs?: TF.NamedAttrMap },
): Info {
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  const attrs = (args.attrs ?? {}) as Attrs;
  const info = convInfo(tf, attrs.inputShape as number[], filter.shape, attrs, false);
  return guarded(tf, args.backend, (s) => {
    const stuffed = zeroStuff(s, dy, info.strideHeight, info.strideWidth);
    const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
    const swapped = s.transpose(flipped, [0, 1, 3, 2]); // [kH, kW, outC, inC]
    const padH = correlationPadding(
      stuffed.shape[1],
      info.filterHeight,
      1,
      info.filterHeight - 1 - info.padInfo.top,
      info.inHeight,
    );
    const padW = correlationPadding(
      stuffed.shape[2],
      info.filterWidth,
      1,
      info.filterWidth - 1 - info.padInfo.left,
      info.inWidth,
    );
    return runCorrelation(s, 'Conv2D', stuffed, swapped, [1, 1], padH, padW);
  });
}

function depthwiseBackpropFilter(
  tf: Tf,
  args: { inputs: TF.NamedTensorInfoMap; backend: TF.KernelBackend; attrs?: TF.NamedAttrMap },
): Info {
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  const attrs = (args.attrs ?? {}) as Attrs;
  const filterShape = attrs.filterShape as number[];
  const info = convInfo(tf, x.shape, filterShape, attrs, true);
  const [batch, height, width, channels] = x.shape;
  const multiplier = filterShape[3];
  return guarded(tf, args.backend, (s) => {
    // One depthwise "image" whose channels are (sample, channel) pairs, each
    // correlated with that sample's output gradient; then sum over samples.
    const z = s.reshape(s.transpose(x, [1, 2, 0, 3]), [1, height, width, batch * channels]);
    const g = s.reshape(s.transpose(dy, [1, 2, 0, 3]), [info.outHeight, info.outWidth, batch * channels, multiplier]);
    const padH = correlationPadding(height, info.outHeight, info.strideHeight, info.padInfo.top, info.filterHeight);
    const padW = correlationPadding(width, info.outWidth, info.strideWidth, info.padInfo.left, info.filterWidth);
    const out = runCorrelation(s, 'DepthwiseConv2dNative', z, g, [info.strideHeight, info.strideWidth], padH, padW);
    const perSample = s.reshape(out, [info.filterHeight * info.filterWidth, batch, channels * multiplier]);
    const summed = s.run('Sum', { x: perSample }, { axis: [1], keepDims: false });
    return s.reshape(summed, filterShape);
  });
}

function depthwiseBackpropInput(
  tf: Tf,
  args: { inputs: TF.NamedTensorInfoMap; backend: TF.KernelBackend; attrs?: TF.NamedAttrMap },
): Info {
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  const attrs = (args.attrs ?? {}) as Attrs;
  const inputShape = attrs.inputShape as number[];
  const info = convInfo(tf, inputShape, filter.shape, attrs, true);
  const [kh, kw, channels, multiplier] = filter.shape;
  return guarded(tf, args.backend, (s) => {
    const stuffed = zeroStuff(s, dy, info.strideHeight, info.strideWidth);
    const flipped = s.reshape(s.run('Reverse', { x: filter }, { dims: [0, 1] }), [kh, kw, channels * multiplier, 1]);
    const padH = correlationPadding(stuffed.shape[1], kh, 1, kh - 1 - info.padInfo.top, info.inHeight);
    const padW = correlationPadding(stuffed.shape[2], kw, 1, kw - 1 - info.padInfo.left, info.inWidth);
    const out = runCorrelation(s, 'DepthwiseConv2dNative', stuffed, flipped, [1, 1], padH, padW);
    if (multiplier === 1) return out;
    const perChannel = s.reshape(out, [inputShape[0] * info.inHeight * info.inWidth, channels, multiplier]);
    return s.reshape(s.run('Sum', { x: perChannel }, { axis: [2], keepDims: false }), inputShape);
  });
}

type KernelArgs = Parameters<typeof conv2DBackpropFilter>[1];
type Implementation = (tf: Tf, args: KernelArgs, stock: TF.KernelFunc | undefined) => Info | Info[];

/**
 * Speed-ups of stock wasm kernels whose slow paths dominate a training step:
 * BatchMatMul with a transposed operand (a scalar loop, ~8x slower than an
 * explicit transpose followed by the XNNPACK path), and Sum over leading axes
 * (a bias gradient; the stock kernel transposes the whole tensor first).
 */
function withoutTransposes(tf: Tf, args: KernelArgs, stock: TF.KernelFunc | undefined): Info {
  if (!stock) throw new Error('the wasm backend has no stock matrix product kernel to wrap');
  const attrs = (args.attrs ?? {}) as Attrs;
  if (!attrs.transposeA && !attrs.transposeB) return stock(args) as Info;
  const { a, b } = args.inputs as { a: Info; b: Info };
  const rank = a.shape.length;
  const plain =
    Object.keys(args.inputs).length === 2 &&
    b.shape.length === rank &&
    a.shape.slice(0, -2).every((d) => d === 1) &&
    b.shape.slice(0, -2).every((d) => d === 1);
  return guarded(tf, args.backend, (s) => {
    const swapLast = (t: Info) =>
      s.transpose(
        t,
        [...t.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : 2 * all.length - 3 - i)),
      );
    if (plain && attrs.transposeB && !attrs.transposeA && a.shape[rank - 2] < b.shape[rank - 2]) {
      // a [M, K] times b [N, K] transposed with M < N (a dense layer's input gradient): as (b a^T)^T, so the
      // operand XNNPACK packs per call is a^T [K, M], not b^T [K, N]; 128x128 by 3136x128: ~14 ms -> ~8 ms.
      const product = s.adopt(
        stock({
          inputs: { a: b, b: swapLast(a) },
          backend: args.backend,
          attrs: { ...attrs, transposeA: false, transposeB: false } as unknown as TF.NamedAttrMap,
        }) as Info,
      );
      return swapLast(product);
    }
    const inputs = { ...args.inputs, a: attrs.transposeA ? swapLast(a) : a, b: attrs.transposeB ? swapLast(b) : b };
    const out = stock({
      inputs,
      backend: args.backend,
      attrs: { ...attrs, transposeA: false, transposeB: false } as unknown as TF.NamedAttrMap,
    }) as Info;
    return out;
  });
}

/** Number of leading axes summed, when `axes` is exactly 0..k-1 with k below the rank; else 0. */
export function leadingAxesCount(axes: number[], rank: number): number {
  const sorted = [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
  const leading = sorted.every((a, i) => a === i);
  return leading && sorted.length < rank ? sorted.length : 0;
}

/**
 * Sum over leading axes as one pass over the data in JS (float64 accumulators).
 * The stock kernel transposes first; a matrix product with a ones vector would
 * hit the wasm BatchMatMul operator cache, which is keyed by the data of its
 * second operand and ignores reshapes of it.
 */
function sumLeadingAxes(tf: Tf, args: KernelArgs, stock: TF.KernelFunc | undefined): Info {
  if (!stock) throw new Error('the wasm backend has no stock Sum kernel to wrap');
  const { x } = args.inputs as { x: Info };
  const attrs = (args.attrs ?? {}) as Attrs;
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
  const k = leadingAxesCount(axes, x.shape.length);
  if (x.dtype !== 'float32' || k === 0) return stock(args) as Info;
  const rest = x.shape.slice(k);
  const columns = rest.reduce((p, q) => p * q, 1);
  const heap = args.backend as unknown as WasmHeapAccess;
  const input = heap.typedArrayFromHeap(x);
  const totals = new Float64Array(columns);
  for (let offset = 0; offset < input.length; offset += columns) {
    for (let j = 0; j < columns; j++) totals[j] += input[offset + j];
  }
  const outShape = attrs.keepDims ? [...x.shape.slice(0, k).map(() => 1), ...rest] : rest;
  const out = heap.makeOutput(outShape, 'float32');
  heap.typedArrayFromHeap(out).set(totals);
  return out;
}

const implementations: Record<string, Implementation> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  Conv2DBackpropInput: conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
  BatchMatMul: withoutTransposes,
  _FusedMatMul: withoutTransposes,
  Sum: sumLeadingAxes,
  MaxPoolGrad: maxPoolGrad,
  // Not stock kernels: the fused conv tail that applyForTraining runs on wasm (domain/ml/training-forward.ts).
  WinnowBiasReluPool: biasReluPool,
  WinnowBiasReluPoolGrad: biasReluPoolGrad,
  // The routed gradients of stride-1 conv blocks (wasm-conv-block-kernels.ts).
  WinnowConvPoolFilterGrad: convPoolFilterGrad,
  WinnowConvPoolInputGrad: convPoolInputGrad,
};

export const wasmKernelNames = Object.keys(implementations);

const ours = new WeakSet<object>();

/**
 * Registers these kernels for the 'wasm' backend of this tfjs instance,
 * replacing (and where noted wrapping) the stock ones. Idempotent. Returns the
 * kernel names it registered.
 */
export function registerWasmKernels(tf: Tf): string[] {
  const registered: string[] = [];
  for (const name of wasmKernelNames) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing && ours.has(existing.kernelFunc)) continue;
    const stock = existing?.kernelFunc;
    if (existing) tf.unregisterKernel(name, 'wasm');
    const kernelFunc = ((args: KernelArgs) => implementations[name](tf, args, stock)) as TF.KernelFunc;
    ours.add(kernelFunc);
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
    registered.push(name);
  }
  return registered;
}
