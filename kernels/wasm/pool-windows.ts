/**
 * The 2x2 pooling windows that the max-pool gradient and the fused conv tail
 * walk, and the routing code that WinnowBiasReluPool writes for its gradient.
 */
import { type Info, type KernelArgs } from './wasm-heap';

/**
 * fn(p0, p1, p2, p3, o) for each 2x2 window (stride 2) of an NHWC tensor, in
 * order: the flat offsets of channel 0 of its top-left, top-right,
 * bottom-left and bottom-right pixels, and of its pooled output.
 */
export function forEachWindow2x2(
  batch: number,
  height: number,
  width: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  fn: (p0: number, p1: number, p2: number, p3: number, o: number) => void,
): void {
  const rowStride = width * channels;
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const row = (b * height + 2 * oh) * rowStride;
      for (let ow = 0; ow < outWidth; ow++, o += channels) {
        const p0 = row + 2 * ow * channels;
        fn(p0, p0 + channels, p0 + rowStride, p0 + rowStride + channels, o);
      }
    }
  }
}

// Code of one pooled output (int32), written by the forward for the gradient:
// bits 0-1 the window slot (0 top-left, 1 top-right, 2 bottom-left,
// 3 bottom-right) that the max-pool gradient routes dy to, bit 2 set when
// there is one (a window of NaN routes nothing), bits 3-6 per slot
// "x + bias > 0" (relu's step is 1), bits 7-10 per slot "x + bias is NaN"
// (the step is NaN, so the gradient is NaN whatever dy).
export const ROUTED = 4;
export const POSITIVE_SHIFT = 3;
export const NAN_SHIFT = 7;

/** A gradient kernel's dy and the forward's codes, checked: float32 and int32 of one NHWC shape. */
export function pooledGradient(kernel: string, args: KernelArgs): { dy: Info; code: Info } {
  const { dy, code } = args.inputs as { dy: Info; code: Info };
  if (
    dy.dtype !== 'float32' ||
    code.dtype !== 'int32' ||
    dy.shape.length !== 4 ||
    code.shape.join() !== dy.shape.join()
  ) {
    throw new Error(
      `${kernel}: dy [${dy.shape}] ${dy.dtype} and codes [${code.shape}] ${code.dtype} must be float32 and int32 of one NHWC shape`,
    );
  }
  return { dy, code };
}
