/**
 * Deterministic artifact keys (relative to the store root), so a retried
 * activity rewrites the same objects. Pure; shared by workflows and activities.
 *   <searchId>/round-<r>/member-<m>/ckpt-<e>/{checkpoint.json,weights.bin}
 *   <searchId>/round-<r>/scores/shard-<k>
 *   <searchId>/round-<r>/accumulators/shard-<k>   (the ensemble sums behind the scores)
 *   <searchId>/round-<r>/accumulators.json        (where they are, and how the round acquired)
 *   <searchId>/round-<r>/subset.json
 *   <searchId>/round-<r>/reacquired/<function>/subset[-<size>].json
 */
export const artifactPaths = {
  search: (searchId: string) => `${searchId}`,
  round: (searchId: string, round: number) => `${searchId}/round-${round}`,
  member: (searchId: string, round: number, member: number) => `${searchId}/round-${round}/member-${member}`,
  checkpoint: (memberKey: string, epoch: number) => `${memberKey}/ckpt-${epoch}`,
  /** Early stopping: the epoch with the best held-out accuracy so far. */
  bestCheckpoint: (memberKey: string) => `${memberKey}/ckpt-best`,
  /**
   * The two slots of a member's per-epoch training state, for resuming between
   * ensemble checkpoints. Saves alternate between them, so a save cut short
   * (a kill mid-write) still leaves the previous state in the other slot.
   */
  resumeSlots: (memberKey: string): [string, string] => [`${memberKey}/resume`, `${memberKey}/resume-1`],
  scoreShard: (searchId: string, round: number, shard: number) =>
    `${searchId}/round-${round}/scores/shard-${String(shard).padStart(5, '0')}`,
  subset: (searchId: string, round: number) => `${searchId}/round-${round}/subset.json`,
  /** A shard's ensemble accumulator (probability sums, member entropy sums, votes), kept beside its scores. */
  accumulatorShard: (searchId: string, round: number, shard: number) =>
    `${searchId}/round-${round}/accumulators/shard-${String(shard).padStart(5, '0')}`,
  /** The round's accumulator manifest: its shards and the acquisition they fed, so it can be acquired again. */
  accumulators: (searchId: string, round: number) => `${searchId}/round-${round}/accumulators.json`,
  /**
   * A subset selected again from round `round - 1`'s accumulators with another function. `size` is given when
   * it is not the size the round acquired.
   */
  reacquiredSubset: (searchId: string, round: number, fn: string, size?: number) =>
    `${searchId}/round-${round}/reacquired/${fn}/subset${size === undefined ? '' : `-${size}`}.json`,
} as const;

/** The epoch of a checkpoint key `.../ckpt-<e>`, or undefined. */
export function checkpointEpochOf(key: string): number | undefined {
  const match = /\/ckpt-(\d+)$/.exec(key);
  return match ? Number(match[1]) : undefined;
}
