/** Round 0 of a search: probe the compute backend, record the search, describe the pool, draw the starting subset. */
import { ApplicationFailure, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { artifactPaths } from '../contracts/artifact-paths';
import { datasetLabel, type LayersModelFile, type SearchConfig } from '../contracts/config';
import { FailureType } from '../contracts/failures';
import { gpu, light } from './proxies';
import { defaultInitialSize, deriveSeed, targetsBeyondPool, type SearchState, type SubsetPointer } from './search-plan';
import { WinnowDataset, WinnowRound, WinnowStatus, WinnowSubsetSize } from './search-attributes';
import type { SearchTracker } from './search-tracker';

export async function prepareSearch(config: SearchConfig, tracker: SearchTracker): Promise<SearchState> {
  const searchId = tracker.progress.searchId;
  upsertSearchAttributes([
    { key: WinnowDataset, value: datasetLabel(config.dataset) },
    { key: WinnowStatus, value: 'running' },
    { key: WinnowRound, value: 0 },
    { key: WinnowSubsetSize, value: 0 },
  ]);
  tracker.enter('preparing', 'probing the compute backend, reading the pool');
  const compute = await gpu.probeCompute();
  tracker.progress.computeBackend = compute.backend;
  const manifest = await light.writeSearchManifest({
    searchId,
    workflowId: workflowInfo().workflowId,
    config,
    compute,
  });
  const pool = await light.describePool({ dataset: config.dataset });
  const early = config.evaluation.earlyStopping;
  // Early stopping's held-out samples follow the pool; refused here, not after the rounds, when they do not exist.
  if (early && pool.trainSplitSize !== undefined && pool.poolSize + early.validationSamples > pool.trainSplitSize) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidConfig,
      message: `invalid search config for this dataset: evaluation.earlyStopping.validationSamples (${early.validationSamples}) does not fit after the pool: the training split has ${pool.trainSplitSize} samples and dataset.limit takes ${pool.poolSize}; lower one of them`,
      nonRetryable: true,
    });
  }
  const tooLarge = targetsBeyondPool(config.targets, pool.poolSize);
  if (tooLarge.length > 0) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidConfig,
      message: `invalid search config for this dataset: ${tooLarge.join('; ')}`,
      nonRetryable: true,
    });
  }
  tracker.progress.poolSize = pool.poolSize;
  // Only configs with a model file take this step, so histories of built-in models replay unchanged.
  const model =
    typeof config.model === 'string'
      ? undefined
      : await gpu.describeModel({ model: config.model, inputShape: pool.shape, numClasses: pool.numClasses });
  // Evaluation models from files are checked as early, for the same reason (and only when there are any).
  for (const evaluationModel of config.evaluation.models ?? []) {
    // Built-in models need no check; the search model's own file was checked above.
    if (typeof evaluationModel === 'string' || 'name' in evaluationModel) continue;
    if (sameModelFile(evaluationModel, config.model)) continue;
    await gpu.describeModel({ model: evaluationModel, inputShape: pool.shape, numClasses: pool.numClasses });
  }
  let subset: SubsetPointer | null = null;
  if (config.scheme === 'build-up') {
    subset = await light.drawRandomSubset({
      storageRoot: manifest.storageRoot,
      key: artifactPaths.subset(searchId, 0),
      size: defaultInitialSize(config),
      poolSize: pool.poolSize,
      seed: deriveSeed(config.seed, 0, 11),
      fingerprint: pool.fingerprint,
      round: 0,
    });
    tracker.progress.subsetSize = subset.count;
    upsertSearchAttributes([{ key: WinnowSubsetSize, value: subset.count }]);
  }
  return {
    searchId,
    storageRoot: manifest.storageRoot,
    pool: {
      poolSize: pool.poolSize,
      testSize: pool.testSize,
      numClasses: pool.numClasses,
      fingerprint: pool.fingerprint,
    },
    round: 0,
    subset,
    evaluations: [],
    rounds: [],
    control: tracker.control,
    computeBackend: compute.backend,
    startedAt: new Date().toISOString(),
    ...(model ? { model: { uri: model.uri, fingerprint: model.fingerprint, parameters: model.parameters } } : {}),
  };
}

function sameModelFile(a: LayersModelFile, b: SearchConfig['model']): boolean {
  return typeof b !== 'string' && a.uri === b.uri && a.init === b.init;
}
