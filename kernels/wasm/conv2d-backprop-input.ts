/**
 * Conv2DBackpropInput: the output gradient, zero-stuffed by the stride and
 * padded, correlated with the flipped, in/out-swapped filter (the stock kernel is
 * a direct loop, about 10x slower).
 */
import { convInfo, correlationPadding, runCorrelation, zeroStuff } from './correlation';
import { guarded } from './scratch';
import { type Attrs, type Info, type KernelArgs, type Tf } from './wasm-heap';

export function conv2DBackpropInput(tf: Tf, args: KernelArgs): Info {
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
