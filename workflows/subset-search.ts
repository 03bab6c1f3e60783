/**
 * The subset search. This first slice proves the wiring end to end: validate
 * the one-object config, probe the compute backend on the GPU queue, write the
 * search manifest on the orchestrator queue, answer `progress` throughout.
 */
import { ApplicationFailure, proxyActivities, setHandler, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ArtifactRef, ComputeProbe, GpuActivities, OrchestratorActivities } from '../activities';
import { formatConfigProblems, parseSearchConfig, type SearchConfig } from './config';
import { progressQuery, type SearchPhase, type SearchProgress } from './definitions';
import { FailureType, nonRetryableFailureTypes } from './failures';
import { deriveSearchId } from './search-id';
import { WinnowDataset, WinnowRound, WinnowStatus, WinnowSubsetSize } from './search-attributes';
import { TaskQueue } from './task-queues';

const retry = { nonRetryableErrorTypes: [...nonRetryableFailureTypes], maximumAttempts: 10 };

const gpu = proxyActivities<GpuActivities>({
  taskQueue: TaskQueue.gpu,
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry,
});

const orchestrator = proxyActivities<OrchestratorActivities>({
  taskQueue: TaskQueue.orchestrator,
  startToCloseTimeout: '2 minutes',
  retry,
});

export interface SearchResult {
  searchId: string;
  config: SearchConfig;
  compute: ComputeProbe;
  manifest: ArtifactRef;
}

export async function subsetSearch(input: unknown): Promise<SearchResult> {
  const info = workflowInfo();
  const progress: SearchProgress = {
    searchId: deriveSearchId(info.workflowId),
    phase: 'validating',
    round: 0,
    subsetSize: 0,
    updatedAt: new Date().toISOString(),
  };
  setHandler(progressQuery, () => progress);
  const enter = (phase: SearchPhase, details: string): void => {
    progress.phase = phase;
    progress.updatedAt = new Date().toISOString();
    setCurrentDetails(`**${phase}**: ${details}`);
  };

  const parsed = parseSearchConfig(input);
  if (!parsed.ok) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidConfig,
      message: formatConfigProblems(parsed.problems),
      details: [parsed.problems],
      nonRetryable: true,
    });
  }
  const config = parsed.config;
  if (config.searchId) progress.searchId = config.searchId;
  upsertSearchAttributes([
    { key: WinnowDataset, value: config.dataset.kind },
    { key: WinnowStatus, value: 'running' },
    { key: WinnowRound, value: 0 },
    { key: WinnowSubsetSize, value: 0 },
  ]);

  try {
    enter('probing-compute', 'checking the compute backend on winnow-gpu');
    const compute = await gpu.probeCompute();
    progress.computeBackend = compute.backend;

    enter('writing-manifest', 'recording the search manifest');
    const manifest = await orchestrator.writeSearchManifest({
      searchId: progress.searchId,
      workflowId: info.workflowId,
      config,
      compute,
    });

    enter('done', `manifest at ${manifest.uri}`);
    upsertSearchAttributes([{ key: WinnowStatus, value: 'completed' }]);
    return { searchId: progress.searchId, config, compute, manifest };
  } catch (err) {
    upsertSearchAttributes([{ key: WinnowStatus, value: 'failed' }]);
    setCurrentDetails(`**failed** in ${progress.phase}: ${(err as Error).message}`);
    throw err;
  }
}
