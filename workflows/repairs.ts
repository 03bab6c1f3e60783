/**
 * The round's three repair loops, in one place. Damage found in storage is
 * never scored with or acquired from; it is rebuilt from what is intact:
 * - a corrupt checkpoint met while scoring: the members are retrained (from
 *   their last intact state) and the shard is scored again;
 * - the same met inside a scoring child workflow: after the retraining, the
 *   child's group of shards runs again under a new workflow id;
 * - a damaged or missing score shard met by acquire: that shard is scored
 *   again, then acquire reruns.
 * Each gives up after `maxRepairs` and lets the failure through.
 */
import { FailureType } from '../contracts/failures';
import { failureDetailsOf, failureTypeOf } from './failure-chain';

/** Repairs one scoring pass or one acquire may ask for before it gives up. */
export const maxRepairs = 2;

/** Retrains the round's members from their last intact state (a checkpoint failed its checksum). */
export type RetrainMembers = () => Promise<void>;

/**
 * Runs scoring attempts that share one repair budget: when several lanes
 * meet the same damage, one retraining serves them all; damage met again
 * after it gets one more retraining, up to `maxRepairs`.
 */
export function sharedCheckpointRepair(retrain?: RetrainMembers): <T>(attempt: () => Promise<T>) => Promise<T> {
  let repairing: Promise<void> | undefined;
  let repairs = 0;
  return async (attempt) => {
    for (;;) {
      const before = repairs;
      try {
        return await attempt();
      } catch (err) {
        if (!retrain || failureTypeOf(err) !== FailureType.CorruptArtifact) throw err;
        if (repairs === before) {
          if (repairs >= maxRepairs) throw err;
          repairs++;
          repairing = retrain();
        }
        await repairing;
      }
    }
  };
}

/** Runs `attempt(0)`, and after a corrupt checkpoint retrains and runs `attempt(1)`, ... (a child workflow per attempt). */
export async function retryAfterRetraining<T>(
  attempt: (n: number) => Promise<T>,
  retrain?: RetrainMembers,
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!retrain || n >= maxRepairs || failureTypeOf(err) !== FailureType.CorruptArtifact) throw err;
      await retrain();
    }
  }
}

/** Runs acquire; when it names a damaged score shard of `scoreShards`, rescoring that shard (by index) and running it again. */
export async function acquireRepairingShards<T>(
  acquire: () => Promise<T>,
  scoreShards: readonly string[],
  rescore: (shardIndex: number) => Promise<void>,
): Promise<T> {
  for (let repairs = 0; ; repairs++) {
    try {
      return await acquire();
    } catch (err) {
      const damaged = damagedScoreShardOf(err);
      const index = damaged === undefined ? -1 : scoreShards.indexOf(damaged);
      if (index < 0 || repairs >= maxRepairs) throw err;
      await rescore(index);
    }
  }
}

/** The score shard URI that acquire found damaged or missing (its failure's details), if that is why it failed. */
function damagedScoreShardOf(err: unknown): string | undefined {
  if (failureTypeOf(err) !== FailureType.CorruptArtifact) return undefined;
  const detail = failureDetailsOf(err)[0] as { damagedScoreShard?: unknown } | undefined;
  return typeof detail?.damagedScoreShard === 'string' ? detail.damagedScoreShard : undefined;
}
