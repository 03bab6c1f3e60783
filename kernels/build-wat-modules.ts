/**
 * Compiles every committed WAT kernel with wabt and rewrites its generated
 * module under kernels/generated/ (see wat-module.ts). The kernels' unit tests
 * fail when the committed bytes differ from their WAT.
 *
 *   npm run build:wat
 */
import { buildWatModule, WAT_MODULES } from './wat-module';

async function main(): Promise<void> {
  for (const spec of WAT_MODULES) await buildWatModule(spec);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
