/**
 * Chooses the tfjs compute backend once per process, in the order the design
 * card gives: tfjs-node-gpu (GPU worker), tfjs-node (native CPU), then the
 * wasm backend. WINNOW_BACKEND forces one. Knows nothing of Temporal.
 */
import type * as TF from '@tensorflow/tfjs';
import { loadWinnowTfOps } from '../kernels/tfjs-node/tfjs-node-native-ops';
import { registerTfjsNodeKernels } from '../kernels/tfjs-node/tfjs-node-kernels';
import { registerWasmKernels } from '../kernels/wasm/register-wasm-kernels';

export const backendNames = ['tfjs-node-gpu', 'tfjs-node', 'wasm'] as const;
export type BackendName = (typeof backendNames)[number];
export type BackendPreference = BackendName | 'auto';

export interface ComputeBackend {
  name: BackendName;
  tf: typeof TF;
  /** Why earlier backends in the order were passed over (empty when the first one loaded). */
  skipped: string[];
}

export function parseBackendPreference(raw: string | undefined): BackendPreference {
  if (raw === undefined || raw === '' || raw === 'auto') return 'auto';
  if ((backendNames as readonly string[]).includes(raw)) return raw as BackendName;
  throw new Error(`WINNOW_BACKEND=${raw} is not a backend; use one of auto, ${backendNames.join(', ')}`);
}

export type ModuleLoader = (name: string) => unknown;

// Loaded with a computed name so that a missing optional native package is a
// runtime condition, not a compile error.
function loadModule(name: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional backends load at run time: a missing one is a condition, not an error
  return require(name);
}

async function tryLoad(name: BackendName, load: ModuleLoader): Promise<typeof TF> {
  if (name === 'wasm') {
    const tf = load('@tensorflow/tfjs') as typeof TF;
    load('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
    await tf.ready();
    // The stock wasm backend cannot train convolutions without these.
    registerWasmKernels(tf);
    return tf;
  }
  // libtensorflow's C++ logging goes to stderr; keep warnings and errors only.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  // oneDNN kernels: measured +19% cnn-small training throughput on 2 EPYC cores (bench/throughput.ts).
  process.env.TF_ENABLE_ONEDNN_OPTS ??= '1';
  // tfjs-node(-gpu) re-export the whole tfjs API with the native backend
  // registered. Without a built addon (infra/install-tfjs-node.sh) this throws.
  const tf = load(`@tensorflow/${name}`) as typeof TF;
  await tf.ready();
  // winnow's native TensorFlow ops (infra/build-tf-ops.sh) are optional: without them the stock MaxPoolGrad runs.
  registerTfjsNodeKernels(tf, loadWinnowTfOps().ops);
  return tf;
}

/** Tries the backends in order (or only the preferred one) and returns the first that loads. */
export async function chooseComputeBackend(
  preference: BackendPreference,
  load: ModuleLoader = loadModule,
): Promise<ComputeBackend> {
  const order = preference === 'auto' ? backendNames : [preference];
  const skipped: string[] = [];
  for (const name of order) {
    try {
      return { name, tf: await tryLoad(name, load), skipped };
    } catch (err) {
      skipped.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no compute backend could be loaded (${skipped.join('; ')})`);
}

let chosen: Promise<ComputeBackend> | undefined;

/** Loads the backend once per process; later calls return the same one. */
export function initComputeBackend(
  preference: BackendPreference = parseBackendPreference(process.env.WINNOW_BACKEND),
): Promise<ComputeBackend> {
  chosen ??= chooseComputeBackend(preference);
  return chosen;
}
