/**
 * WinnowBiasReluPool: maxPool2x2(relu(x + bias)) in one pass, bit for bit as the
 * stock Add, Relu and MaxPool give it, with each output's routing code for the
 * gradient. docs/kernels.md, "wasm backend kernels".
 */
import { forEachWindow2x2, NAN_SHIFT, POSITIVE_SHIFT, ROUTED } from './pool-windows';
import { simdKernel } from './simd-kernels';
import { floats, heapOffset, type Info, type KernelArgs, type Tf, type WasmHeapAccess } from './wasm-heap';

function tailShapes(xShape: number[]): { pooled: number[] } {
  if (xShape.length !== 4) throw new Error(`WinnowBiasReluPool needs an NHWC tensor, got shape [${xShape}]`);
  const [batch, height, width, channels] = xShape;
  if (height % 2 !== 0 || width % 2 !== 0)
    throw new Error(`WinnowBiasReluPool tiles even sizes only, got ${height}x${width}`);
  return { pooled: [batch, height / 2, width / 2, channels] };
}

/**
 * y = maxPool2x2(relu(x + bias)) and the routing code of each output
 * (pool-windows.ts). Pooled values as the wasm MaxPool gives them: the maximum of the
 * window's relu values; with NaNs see poolWithNaN.
 */
export function biasReluPool(_tf: Tf, args: KernelArgs): Info[] {
  const { x, bias } = args.inputs as { x: Info; bias: Info };
  if (x.dtype !== 'float32' || bias.dtype !== 'float32') throw new Error('WinnowBiasReluPool supports float32 only');
  const { pooled } = tailShapes(x.shape);
  const [batch, height, width, channels] = x.shape;
  if (bias.shape.length !== 1 || bias.shape[0] !== channels)
    throw new Error(`WinnowBiasReluPool: bias shape [${bias.shape}] for ${channels} channels`);
  const heap = args.backend as unknown as WasmHeapAccess;
  const yInfo = heap.makeOutput(pooled, 'float32');
  const codeInfo = heap.makeOutput(pooled, 'int32');
  const simd = channels % 4 === 0 ? simdKernel(args.backend) : null;
  if (simd) {
    const at = (info: Info) => heapOffset(args.backend, info);
    simd.bias_relu_pool(at(x), at(bias), at(yInfo), at(codeInfo), batch * (height / 2), width / 2, channels);
    return [yInfo, codeInfo];
  }
  const xs = floats(heap, x);
  const bs = floats(heap, bias);
  const ys = floats(heap, yInfo);
  const codes = heap.typedArrayFromHeap(codeInfo) as Int32Array;
  forEachWindow2x2(batch, height, width, channels, height / 2, width / 2, (p0, p1, p2, p3, o) => {
    for (let c = 0; c < channels; c++, o++) {
      const bc = bs[c];
      // float32 sums, as the Add kernel makes them (a double sum of two floats rounds once to the same float).
      const v0 = Math.fround(xs[p0 + c] + bc);
      const v1 = Math.fround(xs[p1 + c] + bc);
      const v2 = Math.fround(xs[p2 + c] + bc);
      const v3 = Math.fround(xs[p3 + c] + bc);
      const positive = (v0 > 0 ? 1 : 0) | (v1 > 0 ? 2 : 0) | (v2 > 0 ? 4 : 0) | (v3 > 0 ? 8 : 0);
      // Relu values are +0 or positive: first maximum as MaxPoolGrad scans them.
      const r0 = v0 > 0 ? v0 : 0;
      const r1 = v1 > 0 ? v1 : 0;
      const r2 = v2 > 0 ? v2 : 0;
      const r3 = v3 > 0 ? v3 : 0;
      if (v0 === v0 && v1 === v1 && v2 === v2 && v3 === v3) {
        let best = r0;
        let slot = 0;
        if (r1 > best) {
          best = r1;
          slot = 1;
        }
        if (r2 > best) {
          best = r2;
          slot = 2;
        }
        if (r3 > best) {
          best = r3;
          slot = 3;
        }
        ys[o] = best;
        codes[o] = slot | ROUTED | (positive << POSITIVE_SHIFT);
      } else {
        const nan = (v0 !== v0 ? 1 : 0) | (v1 !== v1 ? 2 : 0) | (v2 !== v2 ? 4 : 0) | (v3 !== v3 ? 8 : 0);
        let best = -Infinity;
        let slot = -1;
        const relu = [v0 !== v0 ? NaN : r0, v1 !== v1 ? NaN : r1, v2 !== v2 ? NaN : r2, v3 !== v3 ? NaN : r3];
        for (let s = 0; s < 4; s++) {
          if (relu[s] > best) {
            best = relu[s];
            slot = s;
          }
        }
        ys[o] = poolWithNaN(relu[0], relu[1], relu[2], relu[3]);
        codes[o] = (slot >= 0 ? slot | ROUTED : 0) | (positive << POSITIVE_SHIFT) | (nan << NAN_SHIFT);
      }
    }
  });
  return [yInfo, codeInfo];
}

/**
 * The wasm (XNNPACK) 2x2 max pool of relu values a b / c d when some are NaN,
 * as measured on tfjs-backend-wasm 4.22 (every NaN pattern, 1, 4 and 19
 * channels): max(max(a, c), max(d, b)) with max(p, q) = p < q ? q : p (a NaN
 * p wins, a NaN q loses), then a NaN result clamped to -Infinity.
 */
function poolWithNaN(a: number, b: number, c: number, d: number): number {
  const max = (p: number, q: number) => (p < q ? q : p);
  const m = max(max(a, c), max(d, b));
  return m !== m ? -Infinity : m;
}
