/**
 * WinnowBiasReluPoolGrad: the max-pool, relu and bias gradients of the fused
 * conv tail from dy and WinnowBiasReluPool's codes, bit for bit as the stock
 * chain. docs/kernels.md, "wasm backend kernels".
 */
import { NAN_SHIFT, POSITIVE_SHIFT, pooledGradient, ROUTED } from './pool-windows';
import { simdKernel } from './simd-kernels';
import {
  floats,
  heapOffset,
  withHeapScratch,
  type Info,
  type KernelArgs,
  type Tf,
  type WasmHeapAccess,
} from './wasm-heap';

/**
 * [dx, dbias] from dy and the forward's codes: dx is the max-pool gradient
 * times relu's step, dbias its sum over all but the channel axis, in float64
 * in dx's memory order (zeros add nothing, so only routed values are added).
 */
export function biasReluPoolGrad(_tf: Tf, args: KernelArgs): Info[] {
  const { dy, code } = pooledGradient('WinnowBiasReluPoolGrad', args);
  const [batch, outHeight, outWidth, channels] = dy.shape;
  const height = 2 * outHeight;
  const width = 2 * outWidth;
  const heap = args.backend as unknown as WasmHeapAccess;
  const dxInfo = heap.makeOutput([batch, height, width, channels], 'float32');
  const dbInfo = heap.makeOutput([channels], 'float32');
  const simd = channels % 4 === 0 ? simdKernel(args.backend) : null;
  if (simd) {
    withHeapScratch(args.backend, 8 * channels, (totals, buffer) => {
      new Float64Array(buffer(), totals, channels).fill(0);
      const at = (info: Info) => heapOffset(args.backend, info);
      simd.bias_relu_pool_grad(at(dy), at(code), at(dxInfo), totals, batch * outHeight, outWidth, channels);
      simd.round_totals(totals, at(dbInfo), channels);
    });
    return [dxInfo, dbInfo];
  }
  const g = floats(heap, dy);
  const codes = heap.typedArrayFromHeap(code) as Int32Array;
  const dx = floats(heap, dxInfo);
  dx.fill(0);
  const totals = new Float64Array(channels);
  const rowStride = width * channels;
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const rowOut = (b * outHeight + oh) * outWidth * channels;
      // Row 2*oh, then row 2*oh + 1: dx's memory order, which the bias sum follows.
      for (let half = 0; half < 2; half++) {
        const row = (b * height + 2 * oh + half) * rowStride;
        for (let ow = 0; ow < outWidth; ow++) {
          const o0 = rowOut + ow * channels;
          const left = row + 2 * ow * channels;
          for (let c = 0; c < channels; c++) {
            const k = codes[o0 + c];
            if (k >> NAN_SHIFT !== 0) {
              nanWindowRow(k, half, g[o0 + c], dx, left + c, channels, totals, c);
              continue;
            }
            const slot = k & 3;
            if ((k & ROUTED) === 0) continue;
            if (slot >> 1 !== half) continue;
            const routed = g[o0 + c] + 0;
            const v = (k >> (POSITIVE_SHIFT + slot)) & 1 ? routed : routed * 0;
            dx[left + (slot & 1) * channels + c] = v;
            if (v !== 0) totals[c] += v;
          }
        }
      }
    }
  }
  floats(heap, dbInfo).set(totals);
  return [dxInfo, dbInfo];
}

/** One row (top or bottom) of a window with a NaN pre-activation: NaN where the step is NaN, the routed value where routed. */
function nanWindowRow(
  k: number,
  half: number,
  dy: number,
  dx: Float32Array,
  at: number,
  channels: number,
  totals: Float64Array,
  c: number,
): void {
  for (let col = 0; col < 2; col++) {
    const slot = 2 * half + col;
    let v = 0;
    if ((k >> (NAN_SHIFT + slot)) & 1) v = NaN;
    else if (k & ROUTED && (k & 3) === slot) v = (k >> (POSITIVE_SHIFT + slot)) & 1 ? dy + 0 : (dy + 0) * 0;
    dx[at + col * channels] = v;
    if (v !== 0) totals[c] += v;
  }
}
