/** The activity proxies of the search's workflows, one per kind of work (options in activity-options.ts). */
import { proxyActivities } from '@temporalio/workflow';
import type { GpuActivities, OrchestratorActivities } from '../activities';
import { lightActivityOptions, scoringActivityOptions, trainingActivityOptions } from './activity-options';

/** probeCompute, trainMember and evaluate on winnow-gpu. */
export const gpu = proxyActivities<GpuActivities>(trainingActivityOptions);
/** scoreShard on winnow-gpu: a corrupt checkpoint is not retried here (the round repairs it). */
export const scoring = proxyActivities<GpuActivities>(scoringActivityOptions);
/** Manifests, pool description, subset draws and acquisition on winnow-orchestrator. */
export const light = proxyActivities<OrchestratorActivities>(lightActivityOptions);
