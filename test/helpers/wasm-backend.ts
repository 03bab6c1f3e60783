/** The wasm backend with winnow's kernels, for the wasm test files. */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from '../../kernels/wasm/register-wasm-kernels';

/** Switches this tfjs instance to the wasm backend with winnow's kernels registered (a test file's before()). */
export async function useWasmWithWinnowKernels(): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
  registerWasmKernels(tf);
}
