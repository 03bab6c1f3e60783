/**
 * Compiles activities/acquisition/fold-kernel.wat with wabt and writes the
 * bytes, as base64, to activities/acquisition/fold-kernel-wasm.ts (see
 * wat-module.ts); test/unit/acquisition-fold-kernel.test.ts fails when the
 * committed bytes differ from the WAT's.
 *
 *   npx tsc -p . && node dist/infra/build-fold-kernel.js
 */
import { buildWatModule, FOLD_KERNEL } from './wat-module';

buildWatModule(FOLD_KERNEL);
