/**
 * Worker for winnow-gpu: tensor activities. Run one per GPU (CUDA_VISIBLE_DEVICES);
 * WINNOW_GPU_SLOTS sets concurrent activities per GPU (default 1). `npm run worker:gpu`.
 */
import { closeIdleChildren } from '../activities/gpu-tasks';
import { createGpuWorker, runWorkerMain } from './create-workers';

const slots = Number(process.env.WINNOW_GPU_SLOTS ?? '1');
if (!Number.isInteger(slots) || slots < 1) {
  console.error(`[winnow] WINNOW_GPU_SLOTS=${process.env.WINNOW_GPU_SLOTS} must be a positive integer`);
  process.exit(1);
}

runWorkerMain((connection, namespace) => createGpuWorker({ connection, namespace, slots }))
  .finally(closeIdleChildren)
  .catch((err: unknown) => {
    console.error(`[winnow] gpu worker failed: ${(err as Error).message}`);
    process.exit(1);
  });
