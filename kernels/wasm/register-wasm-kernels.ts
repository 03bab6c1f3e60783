/**
 * Registers winnow's wasm kernels (one per file in this folder) for the 'wasm'
 * backend of a tfjs instance, replacing or wrapping the stock ones.
 */
import type * as TF from '@tensorflow/tfjs';
import { withoutTransposes } from './batch-mat-mul';
import { biasReluPool } from './bias-relu-pool';
import { biasReluPoolGrad } from './bias-relu-pool-grad';
import { conv2DBackpropFilter } from './conv2d-backprop-filter';
import { conv2DBackpropInput } from './conv2d-backprop-input';
import { convPoolFilterGrad } from './conv-pool-filter-grad';
import { convPoolInputGrad } from './conv-pool-input-grad';
import { depthwiseBackpropFilter } from './depthwise-conv2d-backprop-filter';
import { depthwiseBackpropInput } from './depthwise-conv2d-backprop-input';
import { maxPoolGrad } from './max-pool-grad';
import { sumLeadingAxes } from './sum';
import { type Info, type KernelArgs, type Tf } from './wasm-heap';

type Implementation = (tf: Tf, args: KernelArgs, stock: TF.KernelFunc | undefined) => Info | Info[];

const implementations: Record<string, Implementation> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  Conv2DBackpropInput: conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
  BatchMatMul: withoutTransposes,
  _FusedMatMul: withoutTransposes,
  Sum: sumLeadingAxes,
  MaxPoolGrad: maxPoolGrad,
  // Not stock kernels: the fused conv tail that applyForTraining runs on wasm (domain/ml/training-forward.ts).
  WinnowBiasReluPool: biasReluPool,
  WinnowBiasReluPoolGrad: biasReluPoolGrad,
  // The routed gradients of stride-1 conv blocks (conv-pool-*-grad.ts).
  WinnowConvPoolFilterGrad: convPoolFilterGrad,
  WinnowConvPoolInputGrad: convPoolInputGrad,
};

export const wasmKernelNames = Object.keys(implementations);

const ours = new WeakSet<object>();

/**
 * Registers these kernels for the 'wasm' backend of this tfjs instance,
 * replacing (and where noted wrapping) the stock ones. Idempotent. Returns the
 * kernel names it registered.
 */
export function registerWasmKernels(tf: Tf): string[] {
  const registered: string[] = [];
  for (const name of wasmKernelNames) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing && ours.has(existing.kernelFunc)) continue;
    const stock = existing?.kernelFunc;
    if (existing) tf.unregisterKernel(name, 'wasm');
    const kernelFunc = ((args: KernelArgs) => implementations[name](tf, args, stock)) as TF.KernelFunc;
    ours.add(kernelFunc);
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
    registered.push(name);
  }
  return registered;
}
