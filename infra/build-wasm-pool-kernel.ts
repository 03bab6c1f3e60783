/**
 * Compiles activities/compute/wasm-pool-kernel.wat with wabt and writes the
 * bytes, as base64, to activities/compute/wasm-pool-kernel-wasm.ts (see
 * wat-module.ts); test/unit/wasm-pool-kernels.test.ts fails when the
 * committed bytes differ from the WAT's.
 *
 *   npx tsc -p . && node dist/infra/build-wasm-pool-kernel.js
 */
import { buildWatModule, POOL_KERNEL } from './wat-module';

buildWatModule(POOL_KERNEL);
