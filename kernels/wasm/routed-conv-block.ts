/**
 * What the routed gradients of a stride-1 conv block share: when they run, their
 * pads, their scratch layout and the checks of the pooled gradient and codes.
 * docs/kernels.md, "wasm backend kernels".
 */
import type * as TF from '@tensorflow/tfjs';
import { pooledGradient } from './pool-windows';
import { simdKernel, type SimdKernels } from './simd-kernels';
import { type Info, type KernelArgs } from './wasm-heap';

/** Images whose filter-gradient sums are added in float32 before they join the float64 totals. */
export const IMAGES_PER_CHUNK = 8;

/** Zero padding of the convolution's spatial axes (the kernels' attrs). */
export interface ConvPads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Whether the routed kernels run here for a block with `inChannels` input channels. */
export function routedConvBlockSupported(backend: TF.KernelBackend, inChannels: number): boolean {
  return inChannels % 4 === 0 && simdKernel(backend) !== null;
}

/** Byte offsets of consecutive scratch regions (each a multiple of 8 bytes long) and their total size. */
export function scratchLayout(sizes: number[]): { offsets: number[]; bytes: number } {
  const offsets: number[] = [];
  let bytes = 0;
  for (const size of sizes) {
    offsets.push(bytes);
    bytes += Math.ceil(size / 8) * 8;
  }
  return { offsets, bytes };
}

/** The kernel, pads and checked pooled gradient and codes of a routed kernel call. */
export function routedCall(
  name: string,
  args: KernelArgs,
  inChannels: number,
): { simd: SimdKernels; pads: ConvPads; dy: Info; code: Info } {
  const { dy, code } = pooledGradient(name, args);
  const attrs = (args.attrs ?? {}) as Record<string, unknown>;
  const pads = {
    top: Number(attrs.top),
    bottom: Number(attrs.bottom),
    left: Number(attrs.left),
    right: Number(attrs.right),
  };
  if (!Object.values(pads).every((p) => Number.isInteger(p) && p >= 0))
    throw new Error(`${name}: pads ${JSON.stringify(pads)} must be non-negative integers`);
  const simd = inChannels % 4 === 0 ? simdKernel(args.backend) : null;
  if (!simd)
    throw new Error(
      `${name}: needs the SIMD kernel and input channels divisible by 4, got ${inChannels} (see routedConvBlockSupported)`,
    );
  return { simd, pads, dy, code };
}
