/**
 * Loads winnow's native TensorFlow ops (kernels/native/winnow-tf-ops, built by
 * infra/build-tf-ops.sh) into the process, after tfjs-node: the addon
 * registers its ops in libtensorflow's global registries, and tfjs-node's
 * backend can then execute them by name. Optional: when the addon is missing
 * or fails to load, the stock kernels keep running.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../infra/tools';

/** Op names the addon registered. */
export interface WinnowTfOps {
  /** WinnowMaxPool2x2Grad(x, dy) -> dx: 2x2, stride-2 max-pool gradient, NHWC float, even H and W. */
  maxPool2x2Grad: string;
  /** WinnowMaxPool2x2(x) -> y: the 2x2, stride-2 max pool, NHWC float, even H and W. */
  maxPool2x2: string;
  /** WinnowBiasAddRelu(x, bias) -> relu(x + bias), bias over the last axis. */
  biasAddRelu: string;
  /** WinnowBiasAdd(x, bias) -> x + bias, bias over the last axis. */
  biasAdd: string;
  /** WinnowMomentumUpdate(value, accumulation, gradient, m, c) -> (value, accumulation): tfjs MomentumOptimizer's step. */
  momentumUpdate: string;
  /** WinnowAdamUpdate(value, m, v, gradient, beta1, 1-beta1, beta2, 1-beta2, 1-beta1^t, 1-beta2^t, epsilon, -lr) -> (value, m, v). */
  adamUpdate: string;
  /** WinnowBiasReluPool(x, bias) -> (maxpool2x2(relu(x + bias)), int32 gradient slots). */
  biasReluPool: string;
  /** WinnowBiasReluPoolGrad(dy, slots) -> the gradient for x (max-pool then relu gradient). */
  biasReluPoolGrad: string;
  /** WinnowConvIn1BiasReluPool(x, filter, bias; pad_top, pad_bottom, pad_left, pad_right) -> (maxpool2x2(relu(conv + bias)), slots), single-channel x, stride 1. */
  convIn1BiasReluPool: string;
  /** WinnowConvIn1BiasReluPoolGrad(x, dy, slots; the same pads) -> (filter gradient, bias gradient). */
  convIn1BiasReluPoolGrad: string;
  /** WinnowConvPoolFilterGrad(x, dy, slots; pads) -> (filter gradient, bias gradient) of a stride-1 conv + bias + relu + 2x2 pool block, from the pooled gradient. */
  convPoolFilterGrad: string;
  /** WinnowConvPoolInputGrad(dy, slots, filter; pads) -> the input gradient of the same block, from the pooled gradient. */
  convPoolInputGrad: string;
}

const opKeys = [
  'maxPool2x2Grad',
  'maxPool2x2',
  'biasAddRelu',
  'biasAdd',
  'momentumUpdate',
  'adamUpdate',
  'biasReluPool',
  'biasReluPoolGrad',
  'convIn1BiasReluPool',
  'convIn1BiasReluPoolGrad',
  'convPoolFilterGrad',
  'convPoolInputGrad',
] as const;

export type NativeOpsResult = { ops: WinnowTfOps } | { ops?: undefined; reason: string };

/** WINNOW_TF_OPS names the addon file; by default .tools/winnow-tf-ops/winnow_tf_ops.node. WINNOW_TF_OPS=off skips it. */
export function winnowTfOpsPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.WINNOW_TF_OPS === 'off') return undefined;
  if (env.WINNOW_TF_OPS) return path.resolve(env.WINNOW_TF_OPS);
  try {
    return path.join(repoRoot(), '.tools', 'winnow-tf-ops', 'winnow_tf_ops.node');
  } catch {
    return undefined;
  }
}

let loaded: NativeOpsResult | undefined;

/** Loads the addon once per process (tfjs-node must already be loaded). */
export function loadWinnowTfOps(file: string | undefined = winnowTfOpsPath()): NativeOpsResult {
  if (loaded) return loaded;
  if (!file || !existsSync(file)) {
    loaded = { reason: file ? `${file} not built (bash infra/build-tf-ops.sh)` : 'disabled (WINNOW_TF_OPS=off)' };
    return loaded;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a native addon found at run time, by path
    const exported = require(file) as Partial<WinnowTfOps>;
    const missing = opKeys.filter((key) => typeof exported[key] !== 'string');
    if (missing.length > 0) throw new Error(`it lacks ${missing.join(', ')} (rebuild: bash infra/build-tf-ops.sh)`);
    loaded = { ops: Object.fromEntries(opKeys.map((key) => [key, exported[key]])) as unknown as WinnowTfOps };
  } catch (err) {
    loaded = { reason: `${file} did not load: ${(err as Error).message.split('\n')[0]}` };
  }
  return loaded;
}
