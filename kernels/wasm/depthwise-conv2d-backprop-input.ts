/**
 * DepthwiseConv2dNativeBackpropInput (the wasm backend has none): the
 * zero-stuffed output gradient correlated depthwise with the flipped filter.
 */
import { convInfo, correlationPadding, runCorrelation, zeroStuff } from './correlation';
import { guarded } from './scratch';
import { type Attrs, type Info, type KernelArgs, type Tf } from './wasm-heap';

export function depthwiseBackpropInput(tf: Tf, args: KernelArgs): Info {
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
