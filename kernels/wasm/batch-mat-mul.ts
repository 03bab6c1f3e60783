/**
 * BatchMatMul and _FusedMatMul with a transposed operand: the stock kernel's
 * scalar loop (about 8x slower) replaced by an explicit transpose and the stock
 * XNNPACK path.
 */
import type * as TF from '@tensorflow/tfjs';
import { guarded } from './scratch';
import { type Attrs, type Info, type KernelArgs, type Tf } from './wasm-heap';

/**
 * Speed-ups of stock wasm kernels whose slow paths dominate a training step:
 * BatchMatMul with a transposed operand (a scalar loop, ~8x slower than an
 * explicit transpose followed by the XNNPACK path), and Sum over leading axes
 * (a bias gradient; the stock kernel transposes the whole tensor first).
 */
export function withoutTransposes(tf: Tf, args: KernelArgs, stock: TF.KernelFunc | undefined): Info {
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
