/** Hand-built search results and stores for the report tests. */
import { serialiseScoreShard } from '../../domain/acquisition/score-shard-codec';
import { createSubsetManifest, serialiseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import type { ArtifactStore } from '../../domain/storage/store';
import { artifactPaths } from '../../contracts/artifact-paths';
import { parseSearchConfig, type SearchConfigInput } from '../../contracts/config';
import type { AccuracySummary, RoundSummary } from '../../workflows/search-plan';
import type { SearchResult } from '../../workflows/subset-search';

export const POOL = 1200;
export const SHARD = 500;
export const CLASSES = 10;

export function configOf(input: Partial<SearchConfigInput> = {}) {
  const parsed = parseSearchConfig({
    searchId: 'report-fixture',
    dataset: { kind: 'synthetic', size: POOL },
    scheme: 'build-up',
    initialSize: 300,
    targets: [600, 900],
    acquisition: { function: 'entropy', step: 300 },
    ensemble: { members: 2, checkpointEpochs: [2, 3] },
    evaluation: { repeats: 3 },
    shardSize: SHARD,
    ...input,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.config;
}

/** Mean and sample std written out by hand, so the summaries do not come from the code under test. */
export const accuracies: Record<string, AccuracySummary> = {
  al600: { mean: 0.82, std: 0.02, runs: [0.8, 0.82, 0.84] },
  random600: { mean: 0.79, std: 0.01, runs: [0.78, 0.79, 0.8] },
  al900: { mean: 0.86, std: 0.03, runs: [0.83, 0.86, 0.89] },
  random900: { mean: 0.84, std: 0.02, runs: [0.82, 0.84, 0.86] },
  full: { mean: 0.875, std: 0.005, runs: [0.87, 0.875, 0.88] },
};

export const rounds: RoundSummary[] = [
  {
    round: 0,
    subsetSize: 600,
    added: 300,
    cutoffScore: 1.5,
    meanTrainLoss: 0.61,
    seconds: { train: 40, score: 12, acquire: 2, evaluate: 30 },
  },
  {
    round: 1,
    subsetSize: 900,
    added: 300,
    cutoffScore: 1.2,
    meanTrainLoss: 0.48,
    seconds: { train: 55, score: 10, acquire: 2.5, evaluate: 41 },
  },
];

export function resultOf(storageRoot: string, overrides: Partial<SearchResult> = {}): SearchResult {
  const config = configOf();
  const searchId = config.searchId!;
  const uri = (round: number) => `${storageRoot}/${artifactPaths.subset(searchId, round)}`;
  return {
    searchId,
    config,
    storageRoot,
    poolSize: POOL,
    subsets: { '600': uri(1), '900': uri(2) },
    evaluations: [
      { size: 600, fraction: 0.5, subsetUri: uri(1), activeLearning: accuracies.al600!, random: accuracies.random600 },
      { size: 900, fraction: 0.75, subsetUri: uri(2), activeLearning: accuracies.al900!, random: accuracies.random900 },
    ],
    full: accuracies.full,
    rounds,
    computeBackend: 'tfjs-node (cpu)',
    ...overrides,
  };
}

/** Deterministic pseudo-random scores in [0, ln C], a different pattern per round. */
export function scoreOf(round: number, index: number): number {
  const x = Math.sin(index * 12.9898 + round * 78.233) * 43758.5453;
  return Math.fround((x - Math.floor(x)) * Math.log(CLASSES));
}

export function subsetIndices(round: number): number[] {
  // Round 0 holds every 4th sample; each later round adds the next 300 pool indices not yet in.
  const size = 300 * (round + 1);
  const chosen = new Set<number>();
  for (let i = 0; i < POOL && chosen.size < 300; i += 4) chosen.add(i);
  for (let i = 0; i < POOL && chosen.size < size; i++) chosen.add(i);
  return [...chosen].sort((a, b) => a - b);
}

/**
 * Writes what a two-round build-up leaves in the store: subset manifests of
 * rounds 0-2 with their lineage, the ensemble manifests, and the score
 * shards of the given rounds.
 */
export async function populateStore(store: ArtifactStore, options: { scoredRounds?: number[] } = {}): Promise<void> {
  const config = configOf();
  const searchId = config.searchId!;
  await store.put(`${searchId}/search.json`, Buffer.from(JSON.stringify({ version: 1, searchId, config })));
  for (let round = 0; round <= 2; round++) {
    let ensembleManifestUri: string | null = null;
    if (round > 0) {
      const checkpoints = Array.from(
        { length: 4 },
        (_, k) => `${store.root}/${searchId}/round-${round - 1}/member-${k >> 1}/ckpt-${2 + (k & 1)}`,
      );
      ensembleManifestUri = (
        await store.put(`${searchId}/round-${round - 1}/ensemble.json`, Buffer.from(JSON.stringify({ checkpoints })))
      ).uri;
    }
    const manifest = createSubsetManifest({
      indices: subsetIndices(round),
      poolSize: POOL,
      lineage: {
        datasetFingerprint: 'synthetic-fp-1200',
        acquisitionFunction: round === 0 ? 'random' : 'entropy',
        ensembleManifestUri,
        seed: 100 + round,
        parentManifestUri: round === 0 ? null : store.uriOf(artifactPaths.subset(searchId, round - 1)),
        round,
      },
    });
    await store.put(artifactPaths.subset(searchId, round), Buffer.from(serialiseSubsetManifest(manifest)));
  }
  for (const round of options.scoredRounds ?? [0, 1]) {
    for (let shard = 0, start = 0; start < POOL; shard++, start += SHARD) {
      const count = Math.min(SHARD, POOL - start);
      const scores = Float32Array.from({ length: count }, (_, i) => scoreOf(round, start + i));
      await store.put(
        artifactPaths.scoreShard(searchId, round, shard),
        serialiseScoreShard({ globalStart: start, scores }),
      );
    }
  }
}
