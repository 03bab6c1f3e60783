/**
 * scorePoolShards: a child workflow that scores a range of pool shards with a
 * bounded window of scoreShard activities. The round's workflow starts one
 * per `shardsPerChild` shards when a pool has many shards, so that neither
 * its own history nor any child's grows with the pool (ImageNet at 1k-sample
 * shards is 1,281 shards, three events each).
 */
import { proxyActivities } from '@temporalio/workflow';
import { failureTypeOf } from './failure-chain';
import { FailureType } from '../contracts/failures';
import type { GpuActivities, ScoreShardInput } from '../activities';
import type { ShardRange } from './search-plan';
import { scoringActivityOptions } from './activity-options';

const scoring = proxyActivities<GpuActivities>(scoringActivityOptions);
/** Repairs (retraining after a corrupt checkpoint) one scoring pass may ask for before it gives up. */
export const maxRepairs = 2;

export interface ScoreShardsInput {
  /** The fields every shard shares; start, count and outputKey come from each shard. */
  common: Omit<ScoreShardInput, 'start' | 'count' | 'outputKey'>;
  shards: ShardRange[];
  /** Output key per shard, in the order of `shards`. */
  outputKeys: string[];
  window: number;
}

/**
 * Scores the shards at most `window` at a time; calls `onScored` as each
 * finishes. Returns the URIs in shard order. When a shard fails because a
 * checkpoint is corrupt and `repair` is given, the lanes wait for one shared
 * repair (retraining the damaged member) and score that shard again.
 */
export async function scoreShardsWindowed(input: ScoreShardsInput, onScored: () => void = () => undefined, repair?: () => Promise<void>): Promise<string[]> {
  const uris = new Array<string>(input.shards.length);
  let next = 0;
  let repairing: Promise<void> | undefined;
  let repairs = 0;
  const scoreOne = async (i: number): Promise<string> => {
    const shard = input.shards[i];
    for (;;) {
      const before = repairs;
      try {
        return (await scoring.scoreShard({ ...input.common, start: shard.start, count: shard.count, outputKey: input.outputKeys[i] })).uri;
      } catch (err) {
        if (!repair || failureTypeOf(err) !== FailureType.CorruptArtifact) throw err;
        // One repair serves every lane that saw the same damage; a second round of damage gets one more try.
        if (repairs === before) {
          if (repairs >= maxRepairs) throw err;
          repairs++;
          repairing = repair();
        }
        await repairing;
      }
    }
  };
  const lane = async (): Promise<void> => {
    while (next < input.shards.length) {
      const i = next++;
      uris[i] = await scoreOne(i);
      onScored();
    }
  };
  await Promise.all(Array.from({ length: Math.min(input.window, input.shards.length) }, lane));
  return uris;
}

export async function scorePoolShards(input: ScoreShardsInput): Promise<string[]> {
  return scoreShardsWindowed(input);
}
