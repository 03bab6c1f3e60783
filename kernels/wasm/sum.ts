/**
 * Sum over leading axes (a bias gradient) as one pass in float64; other sums go
 * to the stock kernel, which transposes the whole tensor first.
 */
import type * as TF from '@tensorflow/tfjs';
import { type Attrs, type Info, type KernelArgs, type Tf, type WasmHeapAccess } from './wasm-heap';

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
export function sumLeadingAxes(tf: Tf, args: KernelArgs, stock: TF.KernelFunc | undefined): Info {
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
