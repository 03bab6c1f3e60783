/**
 * DepthwiseConv2dNativeBackpropFilter (the wasm backend has none): one depthwise
 * correlation over (sample, channel) pairs, then a sum over the samples.
 */
import { convInfo, correlationPadding, runCorrelation } from './correlation';
import { guarded } from './scratch';
import { type Attrs, type Info, type KernelArgs, type Tf } from './wasm-heap';

export function depthwiseBackpropFilter(tf: Tf, args: KernelArgs): Info {
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
