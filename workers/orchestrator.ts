/** Worker for winnow-orchestrator: workflows and light CPU activities. `npm run worker:orchestrator`. */
import { createOrchestratorWorker, runWorkerMain } from './create-workers';

runWorkerMain((connection, namespace) => createOrchestratorWorker({ connection, namespace })).catch((err: unknown) => {
  console.error(`[winnow] orchestrator worker failed: ${(err as Error).message}`);
  process.exit(1);
});
