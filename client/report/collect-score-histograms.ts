/**
 * Reads each round's score shards from the store and bins them, one shard in
 * memory at a time: the I/O edge of the report's score plot. The bin range is
 * the acquisition function's own where it has one ([0, 1], or [0, ln C] for
 * entropy and MI with a class count), else the observed min and max from a
 * first pass. Samples already in a round's subset are skipped, so each
 * histogram shows the candidates the round's cutoff was applied to.
 */
import type { AcquisitionFunction } from '../../domain/acquisition/acquisition-scores';
import { parseScoreShard } from '../../domain/acquisition/score-shard-codec';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import type { ArtifactStore } from '../../domain/storage/store';
import { artifactPaths } from '../../contracts/artifact-paths';
import {
  addScores,
  createHistogram,
  emptyObservedRange,
  knownScoreRange,
  observeScores,
  rangeFromObserved,
  type ScoreHistogram,
  type ScoreRange,
} from './score-histogram';

export const DEFAULT_HISTOGRAM_BINS = 40;

export interface RoundScores {
  round: number;
  /** Absent when the round has no readable scores (see problem). */
  histogram?: ScoreHistogram;
  shards: number;
  /** Something the reader of the plot should know: why there is no histogram, or what it includes. */
  problem?: string;
}

export interface CollectedHistograms {
  range?: ScoreRange;
  /** 'function': the acquisition function's fixed bounds; 'observed': min and max of the scores read. */
  rangeSource: 'function' | 'observed';
  bins: number;
  rounds: RoundScores[];
  /** Set when the store could not be listed at all. */
  problem?: string;
}

export interface CollectScoreHistogramsInput {
  store: ArtifactStore;
  searchId: string;
  rounds: readonly number[];
  acquisitionFunction: AcquisitionFunction;
  /** Class count, which fixes the range of entropy and MI to [0, ln C]. */
  numClasses?: number;
  bins?: number;
  /** Skip samples already in round-<r>/subset.json (build-up). */
  excludeSubset: boolean;
}

interface RoundSource {
  round: number;
  shardUris: string[];
  exclude?: Uint32Array;
  problem?: string;
}

export async function collectScoreHistograms(input: CollectScoreHistogramsInput): Promise<CollectedHistograms> {
  const bins = input.bins ?? DEFAULT_HISTOGRAM_BINS;
  const known = knownScoreRange(input.acquisitionFunction, input.numClasses);
  const rangeSource = known ? 'function' : 'observed';
  let listed: { round: number; shardUris: string[] }[];
  try {
    listed = [];
    for (const round of input.rounds)
      listed.push({ round, shardUris: await listShards(input.store, input.searchId, round) });
  } catch (err) {
    return {
      rangeSource,
      bins,
      rounds: [],
      problem: `the store ${input.store.root} could not be listed: ${messageOf(err)}`,
    };
  }

  const results = new Map<number, RoundScores>();
  const sources: RoundSource[] = [];
  for (const { round, shardUris } of listed) {
    if (shardUris.length === 0)
      results.set(round, { round, shards: 0, problem: 'no score shards in the store for this round' });
    else sources.push({ round, shardUris });
  }

  let range = known;
  if (!range) {
    const seen = emptyObservedRange();
    for (const source of sources) {
      await withExclusion(input, source, async (exclude) => {
        for (const uri of source.shardUris) {
          const shard = parseScoreShard(await input.store.get(uri), uri);
          observeScores(seen, shard.scores, shard.globalStart, exclude);
        }
      }).catch((err) => {
        source.problem = `score shards unreadable: ${messageOf(err)}`;
      });
    }
    range = rangeFromObserved(seen);
  }

  for (const source of sources) {
    if (source.problem) {
      results.set(source.round, { round: source.round, shards: source.shardUris.length, problem: source.problem });
      continue;
    }
    const histogram = createHistogram(range, bins);
    let note: string | undefined;
    try {
      note = await withExclusion(input, source, async (exclude) => {
        for (const uri of source.shardUris) {
          const shard = parseScoreShard(await input.store.get(uri), uri);
          addScores(histogram, shard.scores, shard.globalStart, exclude);
        }
      });
    } catch (err) {
      results.set(source.round, {
        round: source.round,
        shards: source.shardUris.length,
        problem: `score shards unreadable: ${messageOf(err)}`,
      });
      continue;
    }
    results.set(source.round, { round: source.round, shards: source.shardUris.length, histogram, problem: note });
  }
  return { range, rangeSource, bins, rounds: input.rounds.map((r) => results.get(r)!) };
}

/** Score shard URIs of a round, in shard order. */
async function listShards(store: ArtifactStore, searchId: string, round: number): Promise<string[]> {
  const prefix = `${artifactPaths.round(searchId, round)}/scores/`;
  const objects = await store.list(prefix);
  return objects.filter((o) => /^shard-\d+$/.test(o.key.slice(prefix.length))).map((o) => o.uri);
}

/**
 * Runs `visit` with the round's subset indices to skip (or none); returns a
 * note when they were wanted but could not be read.
 */
async function withExclusion(
  input: CollectScoreHistogramsInput,
  source: RoundSource,
  visit: (exclude?: Uint32Array) => Promise<void>,
): Promise<string | undefined> {
  if (!input.excludeSubset) {
    await visit();
    return undefined;
  }
  const key = artifactPaths.subset(input.searchId, source.round);
  let exclude: Uint32Array | undefined;
  let note: string | undefined;
  try {
    exclude = parseSubsetManifest((await input.store.get(key)).toString('utf8'), key).indices;
  } catch (err) {
    note = `includes samples already in the subset (its manifest could not be read: ${messageOf(err)})`;
  }
  await visit(exclude);
  return note;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
