/**
 * scorePoolShards: a child workflow that scores a range of pool shards with a
 * bounded window of scoreShard activities. The round's workflow starts one
 * per `shardsPerChild` shards when a pool has many shards, so that neither
 * its own history nor any child's grows with the pool (ImageNet at 1k-sample
 * shards is 1,281 shards, three events each).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { GpuActivities, ScoreShardInput } from '../activities';
import type { ShardRange } from './search-plan';
import { scoringActivityOptions } from './activity-options';

const scoring = proxyActivities<GpuActivities>(scoringActivityOptions);

export interface ScoreShardsInput {
  /** The fields every shard shares; start, count and outputKey come from each shard. */
  common: Omit<ScoreShardInput, 'start' | 'count' | 'outputKey'>;
  shards: ShardRange[];
  /** Output key per shard, in the order of `shards`. */
  outputKeys: string[];
  window: number;
}

/** Scores the shards at most `window` at a time; calls `onScored` as each finishes. Returns the URIs in shard order. */
export async function scoreShardsWindowed(input: ScoreShardsInput, onScored: () => void = () => undefined): Promise<string[]> {
  const uris = new Array<string>(input.shards.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < input.shards.length) {
      const i = next++;
      const shard = input.shards[i];
      const result = await scoring.scoreShard({ ...input.common, start: shard.start, count: shard.count, outputKey: input.outputKeys[i] });
      uris[i] = result.uri;
      onScored();
    }
  };
  await Promise.all(Array.from({ length: Math.min(input.window, input.shards.length) }, lane));
  return uris;
}

export async function scorePoolShards(input: ScoreShardsInput): Promise<string[]> {
  return scoreShardsWindowed(input);
}
