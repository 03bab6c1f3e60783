/**
 * The light, CPU-only steps of a search, free of Temporal: describing the
 * pool, drawing seeded random subsets (the build-up start, the random
 * baseline) and merging score shards into the next subset. Subset manifests
 * are immutable: written create-only at deterministic paths, so a retry that
 * computes the same subset succeeds and a different one is refused.
 */
import { selectTopKFromChunks, type NamedBytes } from './acquisition-files';
import { writeAccumulatorManifest } from './accumulator-store';
import { randomScores, type AcquisitionFunction } from './acquisition-scores';
import { TopKSelector, type TopKResult } from './top-k';
import {
  createSubsetManifest,
  mergeSubsetIndices,
  parseSubsetManifest,
  serialiseSubsetManifest,
  type SubsetLineage,
} from './subset-manifest';
import { openDataset, openDetectionDataset, type DatasetSpec } from '../data';
import { isDetectionSpec, type DetectionDatasetSpec } from '../../contracts/detection-data-spec';
import type { ArtifactStore } from '../storage/store';
import { MissingArtifact } from '../storage/store-errors';
import { openWorkerStore } from '../storage/worker-store';
import { FailureType, TypedTaskError } from '../../contracts/failures';

export interface SubsetRef {
  uri: string;
  sha256: string;
  count: number;
}

export interface PoolInfo {
  poolSize: number;
  testSize: number;
  /** Classes, or for detection the object categories (background not counted). */
  numClasses: number;
  shape: [number, number, number];
  fingerprint: string;
  /** With dataset.limit: samples in the whole training split (the pool is its first `poolSize`). */
  trainSplitSize?: number;
}

export async function describePool(input: { dataset: DatasetSpec | DetectionDatasetSpec }): Promise<PoolInfo> {
  const dataset = isDetectionSpec(input.dataset)
    ? await openDetectionDataset(input.dataset)
    : await openDataset(input.dataset);
  return {
    poolSize: dataset.info.samples.train,
    testSize: dataset.info.samples.test,
    numClasses: dataset.info.numClasses,
    shape: dataset.info.shape,
    fingerprint: await dataset.fingerprint(),
    ...(!isDetectionSpec(input.dataset) && input.dataset.limit !== undefined
      ? { trainSplitSize: (await openDataset({ ...input.dataset, limit: undefined })).info.samples.train }
      : {}),
  };
}

/** Writes a subset manifest create-only (the same content again is accepted: retries). */
export async function putSubset(
  store: ArtifactStore,
  key: string,
  indices: ArrayLike<number>,
  poolSize: number,
  lineage: SubsetLineage,
): Promise<SubsetRef> {
  const manifest = createSubsetManifest({ indices, poolSize, lineage });
  const stored = await store.put(key, Buffer.from(serialiseSubsetManifest(manifest)), {
    createOnly: true,
    contentType: 'application/json',
  });
  return { uri: stored.uri, sha256: stored.sha256, count: manifest.count };
}

export interface RandomSubsetInput {
  storageRoot: string;
  key: string;
  size: number;
  poolSize: number;
  seed: number;
  fingerprint: string;
  round: number;
}

/** A seeded uniform random subset of `size` samples (the build-up start and the random baseline). */
export async function drawRandomSubset(input: RandomSubsetInput): Promise<SubsetRef> {
  if (input.size > input.poolSize) {
    throw new TypedTaskError(
      FailureType.InvalidConfig,
      `a random subset of ${input.size} samples cannot be drawn from a pool of ${input.poolSize}`,
    );
  }
  const selector = new TopKSelector({ k: input.size, seed: input.seed, poolSize: input.poolSize });
  const chunk = 1 << 20;
  for (let start = 0; start < input.poolSize; start += chunk) {
    const count = Math.min(chunk, input.poolSize - start);
    selector.add({ globalStart: start, scores: randomScores(start, count, input.seed) });
  }
  const { indices } = selector.finish();
  const lineage: SubsetLineage = {
    datasetFingerprint: input.fingerprint,
    acquisitionFunction: 'random',
    ensembleManifestUri: null,
    seed: input.seed,
    parentManifestUri: null,
    round: input.round,
  };
  return putSubset(openWorkerStore(input.storageRoot), input.key, indices, input.poolSize, lineage);
}

export interface AcquireInput {
  storageRoot: string;
  /** Where the new subset goes (artifactPaths.subset). */
  key: string;
  /** Where the round's ensemble manifest (its checkpoint URIs) goes. */
  ensembleKey: string;
  checkpoints: string[];
  scoreShards: string[];
  /** The subset being extended; null to select from the whole pool (compress). */
  parentSubsetUri: string | null;
  /** Samples to add. */
  k: number;
  poolSize: number;
  seed: number;
  fingerprint: string;
  function: AcquisitionFunction;
  round: number;
  /** The model file's fingerprint when the search trains one (subset lineage). */
  modelFingerprint?: string;
  /**
   * The round's kept accumulators (artifactPaths.accumulatorShard, in shard order) and where to record them with
   * this selection (artifactPaths.accumulators), so the round can be acquired again; absent for random scores.
   */
  accumulators?: { key: string; shardKeys: string[]; scoredRound: number };
}

export interface AcquireResult extends SubsetRef {
  added: number;
  /** Lowest score that made it in. */
  cutoffScore: number | null;
}

/**
 * Streams the round's score shards through an exact top-k, excluding the
 * parent subset, and writes the new subset. `onShardRead` reports progress
 * after each shard (the activity heartbeats with it).
 */
export async function acquireSubset(
  input: AcquireInput,
  onShardRead: (progress: { shardsRead: number; shards: number }) => void = () => undefined,
): Promise<AcquireResult> {
  const store = openWorkerStore(input.storageRoot);
  const ensemble = await store.put(
    input.ensembleKey,
    Buffer.from(JSON.stringify({ checkpoints: input.checkpoints }, null, 1)),
    {
      contentType: 'application/json',
    },
  );
  const parent = input.parentSubsetUri
    ? parseSubsetManifest((await store.get(input.parentSubsetUri)).toString('utf8'), input.parentSubsetUri)
    : undefined;
  // Shards are read and parsed one after another: the one last asked for is the one a read or parse error is about.
  let reading: string | undefined;
  async function* shards(): AsyncGenerator<NamedBytes> {
    for (const [i, uri] of input.scoreShards.entries()) {
      reading = uri;
      yield { name: uri, bytes: await store.get(uri) };
      onShardRead({ shardsRead: i + 1, shards: input.scoreShards.length });
    }
  }
  let top: TopKResult;
  try {
    top = await selectTopKFromChunks(shards(), {
      k: input.k,
      seed: input.seed,
      exclude: parent?.indices,
      poolSize: input.poolSize,
    });
  } catch (err) {
    throw reading !== undefined && isDamaged(err) ? damagedScoreShard(reading, err as Error) : err;
  }
  const indices = parent ? mergeSubsetIndices(parent.indices, top.indices) : top.indices;
  const lineage: SubsetLineage = {
    datasetFingerprint: input.fingerprint,
    acquisitionFunction: input.function,
    ensembleManifestUri: ensemble.uri,
    seed: input.seed,
    parentManifestUri: input.parentSubsetUri,
    round: input.round,
    ...(input.modelFingerprint !== undefined ? { modelFingerprint: input.modelFingerprint } : {}),
  };
  const ref = await putSubset(store, input.key, indices, input.poolSize, lineage);
  if (input.accumulators && input.function !== 'random' && input.checkpoints.length > 0) {
    await writeAccumulatorManifest(store, input.accumulators.key, input.accumulators.shardKeys, {
      round: input.accumulators.scoredRound,
      function: input.function,
      models: input.checkpoints.length,
      poolSize: input.poolSize,
      datasetFingerprint: input.fingerprint,
      ...(input.modelFingerprint !== undefined ? { modelFingerprint: input.modelFingerprint } : {}),
      ensembleManifestUri: ensemble.uri,
      seed: input.seed,
      acquired: { subsetUri: ref.uri, parentSubsetUri: input.parentSubsetUri, k: input.k, subsetRound: input.round },
    });
  }
  return { ...ref, added: top.indices.length, cutoffScore: top.cutoffScore };
}

function isDamaged(err: unknown): boolean {
  return (
    err instanceof MissingArtifact ||
    (err as { failureType?: unknown } | null)?.failureType === FailureType.CorruptArtifact
  );
}

/**
 * Not retryable here: reading the same bytes again cannot help. The workflow
 * scores the shard again (its details name it) and reruns acquire.
 */
function damagedScoreShard(uri: string, cause: Error): TypedTaskError {
  return new TypedTaskError(
    FailureType.CorruptArtifact,
    `score shard ${uri} cannot be used (${cause.message}); the round scores that shard again`,
    { nonRetryable: true, details: [{ damagedScoreShard: uri }], cause },
  );
}
