/**
 * Chooses the tfjs compute backend once per process, in the order the design
 * card gives: tfjs-node-gpu (GPU worker), tfjs-node (native CPU), then the
 * wasm backend. WINNOW_BACKEND forces one. Knows nothing of Temporal.
 */
import type * as TF from '@tensorflow/tfjs';

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

// Loaded with a computed name so that a missing optional native package is a
// runtime condition, not a compile error.
function loadModule(name: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(name);
}

async function tryLoad(name: BackendName): Promise<typeof TF> {
  if (name === 'wasm') {
    const tf = loadModule('@tensorflow/tfjs') as typeof TF;
    loadModule('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
    await tf.ready();
    return tf;
  }
  // tfjs-node(-gpu) re-export the whole tfjs API with the native backend registered.
  const tf = loadModule(`@tensorflow/${name}`) as typeof TF;
  await tf.ready();
  return tf;
}

let chosen: Promise<ComputeBackend> | undefined;

/** Loads the backend once per process; later calls return the same one. */
export function initComputeBackend(preference: BackendPreference = parseBackendPreference(process.env.WINNOW_BACKEND)): Promise<ComputeBackend> {
  chosen ??= (async () => {
    const order = preference === 'auto' ? backendNames : [preference];
    const skipped: string[] = [];
    for (const name of order) {
      try {
        return { name, tf: await tryLoad(name), skipped };
      } catch (err) {
        skipped.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    throw new Error(`no compute backend could be loaded (${skipped.join('; ')})`);
  })();
  return chosen;
}
