/** Activities grouped by the task queue whose workers run them. */
import { probeCompute } from './probe-compute';
import { writeSearchManifest } from './write-search-manifest';

export const gpuActivities = { probeCompute };
export const orchestratorActivities = { writeSearchManifest };

export type GpuActivities = typeof gpuActivities;
export type OrchestratorActivities = typeof orchestratorActivities;
export type { ArtifactRef, WriteSearchManifestInput } from './write-search-manifest';
export type { ComputeProbe } from './probe-compute';
