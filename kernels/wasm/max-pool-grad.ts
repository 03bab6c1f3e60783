/**
 * MaxPoolGrad as one pass in JS over the backend's heap (the stock wasm kernel is
 * a slow scalar loop); 2x2, stride-2 windows take a specialised loop.
 */
import type * as TF from '@tensorflow/tfjs';
import { forEachWindow2x2 } from './pool-windows';
import { floats, type Attrs, type Info, type KernelArgs, type Pair, type Tf, type WasmHeapAccess } from './wasm-heap';

/**
 * Max-pool gradient as one pass in JS: each output's gradient goes to the first
 * maximum of its window (row-major scan, as the cpu backend does). The stock
 * wasm kernel is a slow scalar loop. 2x2 windows with stride 2 and no padding
 * (the common pool) take a specialised loop with the same result.
 */
export function maxPoolGrad(tf: Tf, args: KernelArgs): Info {
  const { dy, input } = args.inputs as { dy: Info; input: Info };
  const attrs = (args.attrs ?? {}) as Attrs;
  if (input.dtype !== 'float32') throw new Error(`wasm MaxPoolGrad supports float32 only, got ${input.dtype}`);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as number | Pair,
    attrs.strides as number | Pair,
    1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const heap = args.backend as unknown as WasmHeapAccess;
  const out = heap.makeOutput(input.shape, 'float32');
  // Views taken after makeOutput: allocating may move the heap.
  const x = floats(heap, input);
  const g = floats(heap, dy);
  const dx = floats(heap, out);
  dx.fill(0);
  const tiles2x2 =
    info.filterHeight === 2 &&
    info.filterWidth === 2 &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.outHeight * 2 <= info.inHeight &&
    info.outWidth * 2 <= info.inWidth;
  if (tiles2x2) maxPoolGrad2x2(info, x, g, dx);
  else maxPoolGradGeneric(info, x, g, dx);
  return out;
}

type PoolInfo = ReturnType<typeof TF.backend_util.computePool2DInfo>;

function maxPoolGradGeneric(info: PoolInfo, x: Float32Array, g: Float32Array, dx: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const rowStride = inWidth * channels;
  const imageStride = inHeight * rowStride;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * info.strideHeight - info.padInfo.top;
      const hStart = Math.max(0, h0);
      const hEnd = Math.min(inHeight, h0 + info.filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * info.strideWidth - info.padInfo.left;
        const wStart = Math.max(0, w0);
        const wEnd = Math.min(inWidth, w0 + info.filterWidth);
        const gBase = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          let best = -Infinity;
          let at = -1;
          for (let h = hStart; h < hEnd; h++) {
            for (let w = wStart; w < wEnd; w++) {
              const i = b * imageStride + h * rowStride + w * channels + c;
              if (x[i] > best) {
                best = x[i];
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] += g[gBase + c];
        }
      }
    }
  }
}

/** Non-overlapping 2x2 windows: the first maximum of (top-left, top-right, bottom-left, bottom-right) gets dy. */
function maxPoolGrad2x2(info: PoolInfo, x: Float32Array, g: Float32Array, dx: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  forEachWindow2x2(batchSize, inHeight, inWidth, channels, outHeight, outWidth, (p0, p1, p2, p3, o) => {
    for (let c = 0; c < channels; c++, o++) {
      // The generic loop's `x > best` from -Infinity: NaN never wins, a window of NaN/-Infinity routes nothing.
      let best = -Infinity;
      let at = -1;
      const v0 = x[p0 + c];
      if (v0 > best) {
        best = v0;
        at = p0 + c;
      }
      const v1 = x[p1 + c];
      if (v1 > best) {
        best = v1;
        at = p1 + c;
      }
      const v2 = x[p2 + c];
      if (v2 > best) {
        best = v2;
        at = p2 + c;
      }
      if (x[p3 + c] > best) at = p3 + c;
      // `+ 0` as the generic loop's `dx[at] += g` on a zeroed output: -0 becomes +0.
      if (at >= 0) dx[at] = g[o] + 0;
    }
  });
}
