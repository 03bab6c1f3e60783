/** Activities grouped by the task queue whose workers run them. */
import { describeModel, evaluate, scoreShard, trainMember } from './gpu-tasks';
import { probeCompute } from './probe-compute';
import { acquire, describePool, drawRandomSubset, reacquire } from './subsets';
import { writeSearchManifest } from './write-search-manifest';

export const gpuActivities = { probeCompute, describeModel, trainMember, scoreShard, evaluate };
export const orchestratorActivities = { writeSearchManifest, describePool, drawRandomSubset, acquire, reacquire };

export type GpuActivities = typeof gpuActivities;
export type OrchestratorActivities = typeof orchestratorActivities;
export type { ArtifactRef, SearchManifestRef, WriteSearchManifestInput } from './write-search-manifest';
export type { ComputeProbe } from './probe-compute';
export type * from './gpu-tasks';
export type * from './subsets';
