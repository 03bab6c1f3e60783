/**
 * A faster Step kernel for the tfjs-node ('tensorflow') backend. Step(x) is the
 * relu derivative in every relu gradient (fused conv/dense layers included);
 * tfjs-node builds it from six TensorFlow ops and two full-size constant
 * tensors. For alpha 0 (relu) four element-wise ops suffice: NaN stays NaN,
 * positive gives 1, anything else 0, as in the stock kernel.
 */
import type * as TF from '@tensorflow/tfjs';

type Tf = typeof TF;

interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

/** The parts of tfjs-node's NodeJSKernelBackend used here. */
interface NodeBackendAccess {
  binding: { TF_ATTR_TYPE: number; TF_ATTR_BOOL: number; TF_FLOAT: number; TF_BOOL: number };
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: TF.TensorInfo[]): TF.Tensor;
}

const ours = new WeakSet<object>();

/** Registers the kernel for the 'tensorflow' backend of this tfjs instance. Idempotent; returns the names registered. */
export function registerTfjsNodeKernels(tf: Tf): string[] {
  const stock = tf.getKernel('Step', 'tensorflow');
  if (!stock || ours.has(stock.kernelFunc)) return [];
  const kernelFunc = ((args: { inputs: TF.NamedTensorInfoMap; backend: TF.KernelBackend; attrs?: TF.NamedAttrMap }) => {
    const x = args.inputs.x as TF.TensorInfo;
    if (x.dtype !== 'float32' || (args.attrs?.alpha ?? 0) !== 0) return stock.kernelFunc(args as Parameters<TF.KernelFunc>[0]);
    const backend = args.backend as unknown as NodeBackendAccess;
    const { TF_ATTR_TYPE, TF_ATTR_BOOL, TF_FLOAT, TF_BOOL } = backend.binding;
    const float: OpAttr = { name: 'T', type: TF_ATTR_TYPE, value: TF_FLOAT };
    return tf.tidy(() => {
      const zero = tf.scalar(0, 'float32');
      const positive = backend.executeSingleOutput('Greater', [float], [x, zero]);
      const ones = backend.executeSingleOutput(
        'Cast',
        [
          { name: 'SrcT', type: TF_ATTR_TYPE, value: TF_BOOL },
          { name: 'DstT', type: TF_ATTR_TYPE, value: TF_FLOAT },
          { name: 'Truncate', type: TF_ATTR_BOOL, value: false },
        ],
        [positive],
      );
      const nan = backend.executeSingleOutput('IsNan', [float], [x]);
      return backend.executeSingleOutput('Select', [float], [nan, x, ones]);
    });
  }) as TF.KernelFunc;
  ours.add(kernelFunc);
  tf.unregisterKernel('Step', 'tensorflow');
  tf.registerKernel({ kernelName: 'Step', backendName: 'tensorflow', kernelFunc });
  return ['Step'];
}
