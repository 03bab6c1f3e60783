/**
 * Scoring a range of pool shards with a bounded window of scoreShard
 * activities, and scorePoolShards, the child workflow that does it for one
 * group of shards: the round starts one per `shardsPerChild` shards when a
 * pool has many, so that neither its own history nor any child's grows with
 * the pool (ImageNet at 1k-sample shards is 1,281 shards, three events each).
 */
import type { ScoreShardInput, ScoreShardResult } from '../activities';
import { scoring } from './proxies';
import { sharedCheckpointRepair, type RetrainMembers } from './repairs';
import type { ShardRange } from './search-plan';
import { forEachWindowed } from './windowed';

export interface ScoreShardsInput {
  /** The fields every shard shares; start, count, outputKey and accumulatorKey come from each shard. */
  common: Omit<ScoreShardInput, 'start' | 'count' | 'outputKey' | 'accumulatorKey'>;
  shards: ShardRange[];
  /** Output key per shard, in the order of `shards`. */
  outputKeys: string[];
  /** Accumulator key per shard, in the order of `shards`; absent: accumulators are not kept (random, older runs). */
  accumulatorKeys?: string[];
  window: number;
}

/**
 * Scores the shards at most `window` at a time; calls `onScored` as each
 * finishes. Returns the URIs in shard order. With `retrain`, a shard that
 * meets a corrupt checkpoint is scored again after the members are retrained.
 */
export async function scoreShardsWindowed(
  input: ScoreShardsInput,
  onScored: (result: ScoreShardResult) => void = () => undefined,
  retrain?: RetrainMembers,
): Promise<string[]> {
  const uris = new Array<string>(input.shards.length);
  const repairing = sharedCheckpointRepair(retrain);
  const scoreOne = async (i: number): Promise<ScoreShardResult> => {
    const shard = input.shards[i];
    const accumulatorKey = input.accumulatorKeys?.[i];
    const shardInput: ScoreShardInput = {
      ...input.common,
      start: shard.start,
      count: shard.count,
      outputKey: input.outputKeys[i],
      ...(accumulatorKey !== undefined ? { accumulatorKey } : {}),
    };
    return repairing(() => scoring.scoreShard(shardInput));
  };
  await forEachWindowed(input.shards.length, input.window, async (i) => {
    const result = await scoreOne(i);
    uris[i] = result.uri;
    onScored(result);
  });
  return uris;
}

/** Child workflow: one group of the round's shards (a corrupt checkpoint fails it; the round repairs and reruns it). */
export async function scorePoolShards(input: ScoreShardsInput): Promise<string[]> {
  return scoreShardsWindowed(input);
}
