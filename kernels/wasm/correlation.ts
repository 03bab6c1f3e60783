/**
 * The rewrite that the convolution gradient kernels share: a gradient as a
 * stride-1 correlation run by the backend's own XNNPACK Conv2D or depthwise
 * kernel, with the padding, crop and zero-stuffing that make it equal.
 * docs/kernels.md, "wasm backend kernels".
 */
import type * as TF from '@tensorflow/tfjs';
import { type Scratch } from './scratch';
import { type Attrs, type Info, type Pair, type Tf } from './wasm-heap';

export type Conv2DInfo = ReturnType<typeof TF.backend_util.computeConv2DInfo>;

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

export function runCorrelation(
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
export function zeroStuff(s: Scratch, dy: Info, strideH: number, strideW: number): Info {
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

export function convInfo(
  tf: Tf,
  xShape: number[],
  filterShape: number[],
  attrs: Attrs,
  depthwise: boolean,
): Conv2DInfo {
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
