/**
 * Reacquire: a finished round's subset selected again with another
 * acquisition function from the round's stored ensemble accumulators, with
 * no model run. The accumulator shards are read one at a time, scored with
 * the new function and streamed through the same exact top-k (same k, same
 * excluded parent subset, same tie-break seed) as the round's own acquire,
 * so the subset is the one rescoring the round's checkpoints with that
 * function would have made. Free of Temporal.
 */
import { acquisitionFunctions } from '../../contracts/config';
import { artifactPaths } from '../../contracts/artifact-paths';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { parseAccumulator } from './accumulator-codec';
import { corruptArtifact } from './binary-format';
import { readAccumulatorManifest, type AccumulatorManifest } from './accumulator-store';
import { scoreAccumulator, type AcquisitionFunction } from './acquisition-scores';
import { mergeSubsetIndices, parseSubsetManifest, type SubsetLineage } from './subset-manifest';
import { putSubset, type SubsetRef } from './subset-steps';
import { TopKSelector } from './top-k';
import type { ArtifactStore } from '../storage/store';
import { MissingArtifact } from '../storage/store-errors';
import { openWorkerStore } from '../storage/worker-store';

export interface ReacquireInput {
  /** The search's store root (its SearchState.storageRoot); default: the worker's. */
  storageRoot?: string;
  searchId: string;
  /** The scored round to select from again; default: the latest one with stored accumulators. */
  round?: number;
  function: AcquisitionFunction;
  /** Samples in the new subset; default: as many as the round's own subset. */
  size?: number;
}

export interface ReacquireResult extends SubsetRef {
  searchId: string;
  /** The round whose accumulators were used. */
  round: number;
  function: AcquisitionFunction;
  /** The function the round itself acquired with, and the subset it made. */
  originalFunction: AcquisitionFunction;
  originalSubsetUri: string;
  /** The round's accumulator manifest (the new subset's lineage.reacquiredFrom). */
  reacquiredFrom: string;
  added: number;
  cutoffScore: number | null;
  shards: number;
  seconds: number;
}

function invalid(message: string): TypedTaskError {
  return new TypedTaskError(FailureType.InvalidConfig, message);
}

/** The latest round of the search with an accumulator manifest. */
async function latestRound(store: ArtifactStore, searchId: string): Promise<number> {
  const pattern = /\/round-(\d+)\/accumulators\.json$/;
  let latest = -1;
  for (const { key } of await store.list(`${searchId}/`)) {
    const match = pattern.exec(key);
    if (match && key === artifactPaths.accumulators(searchId, Number(match[1])))
      latest = Math.max(latest, Number(match[1]));
  }
  if (latest < 0) {
    throw invalid(
      `search ${searchId} has no round with stored accumulators under ${store.uriOf(searchId)}: ` +
        'check the search id and storage root; rounds scored with the random function, or before accumulators ' +
        'were kept, cannot be acquired again',
    );
  }
  return latest;
}

function checkFunction(fn: unknown): AcquisitionFunction {
  if (typeof fn !== 'string' || !(acquisitionFunctions as readonly string[]).includes(fn))
    throw invalid(`unknown acquisition function ${JSON.stringify(fn)}; use one of ${acquisitionFunctions.join(', ')}`);
  if (fn === 'random')
    throw invalid(
      'the random function uses no ensemble, so there is nothing to acquire again; use an ensemble function ' +
        `(${acquisitionFunctions.filter((f) => f !== 'random').join(', ')})`,
    );
  return fn as AcquisitionFunction;
}

/** Samples to add so that the new subset has `size` samples, or the round's own k. */
function samplesToAdd(manifest: AccumulatorManifest, parentCount: number, size: number | undefined): number {
  if (size === undefined) return manifest.acquired.k;
  const most = manifest.poolSize;
  if (!Number.isInteger(size) || size <= parentCount || size > most) {
    throw invalid(
      `size ${size}: the round extended a subset of ${parentCount} samples in a pool of ${most}; ` +
        `give a size in [${parentCount + 1}, ${most}]`,
    );
  }
  return size - parentCount;
}

function unusableShard(uri: string, round: number, cause: Error): TypedTaskError {
  return new TypedTaskError(
    FailureType.CorruptArtifact,
    `accumulator shard ${uri} of round ${round} cannot be used (${cause.message}); reacquire cannot repair it: ` +
      'score the round again',
    { nonRetryable: true, cause },
  );
}

/**
 * Selects round `input.round`'s subset again with `input.function` and writes it (create-only) at
 * artifactPaths.reacquiredSubset. `onShardRead` reports after each accumulator shard (the activity heartbeats).
 */
export async function reacquireSubset(
  input: ReacquireInput,
  onShardRead: (progress: { shardsRead: number; shards: number }) => void = () => undefined,
): Promise<ReacquireResult> {
  const started = performance.now();
  const fn = checkFunction(input.function);
  if (input.round !== undefined && (!Number.isInteger(input.round) || input.round < 0))
    throw invalid(`round ${input.round}: rounds are integers from 0`);
  const store = openWorkerStore(input.storageRoot);
  const round = input.round ?? (await latestRound(store, input.searchId));
  const { uri: manifestUri, manifest } = await readAccumulatorManifest(
    store,
    artifactPaths.accumulators(input.searchId, round),
    round,
  );
  const parentUri = manifest.acquired.parentSubsetUri;
  const parent = parentUri ? parseSubsetManifest((await store.get(parentUri)).toString('utf8'), parentUri) : undefined;
  const k = samplesToAdd(manifest, parent?.count ?? 0, input.size);
  const selector = new TopKSelector({
    k,
    seed: manifest.seed,
    exclude: parent?.indices,
    poolSize: manifest.poolSize,
  });
  for (const [i, shard] of manifest.shards.entries()) {
    let scores: Float32Array;
    let globalStart: number;
    try {
      const accumulator = parseAccumulator(await store.get(shard.uri, { sha256: shard.sha256 }), shard.uri);
      if (accumulator.memberCount !== manifest.models)
        throw corruptArtifact(
          shard.uri,
          `it holds ${accumulator.memberCount} models, the round's ensemble had ${manifest.models}`,
        );
      scores = scoreAccumulator(accumulator, fn);
      globalStart = accumulator.globalStart;
    } catch (err) {
      const damaged =
        err instanceof MissingArtifact ||
        (err as { failureType?: unknown } | null)?.failureType === FailureType.CorruptArtifact;
      throw damaged ? unusableShard(shard.uri, round, err as Error) : err;
    }
    selector.add({ globalStart, scores }, shard.uri);
    onShardRead({ shardsRead: i + 1, shards: manifest.shards.length });
  }
  const top = selector.finish();
  const indices = parent ? mergeSubsetIndices(parent.indices, top.indices) : top.indices;
  const subsetRound = manifest.acquired.subsetRound;
  const lineage: SubsetLineage = {
    datasetFingerprint: manifest.datasetFingerprint,
    acquisitionFunction: fn,
    ensembleManifestUri: manifest.ensembleManifestUri,
    seed: manifest.seed,
    parentManifestUri: parentUri,
    round: subsetRound,
    ...(manifest.modelFingerprint !== undefined ? { modelFingerprint: manifest.modelFingerprint } : {}),
    reacquiredFrom: manifestUri,
  };
  const key = artifactPaths.reacquiredSubset(input.searchId, subsetRound, fn, input.size);
  const ref = await putSubset(store, key, indices, manifest.poolSize, lineage);
  return {
    ...ref,
    searchId: input.searchId,
    round,
    function: fn,
    originalFunction: manifest.function,
    originalSubsetUri: manifest.acquired.subsetUri,
    reacquiredFrom: manifestUri,
    added: top.indices.length,
    cutoffScore: top.cutoffScore,
    shards: manifest.shards.length,
    seconds: (performance.now() - started) / 1000,
  };
}
