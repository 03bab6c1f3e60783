/**
 * Workflow changes that running searches must survive, each behind
 * `patched(id)`: a search whose history was recorded before the change
 * replays the old branch (no marker in its history), a new run takes the new
 * one. An id is removed (with `deprecatePatch`, then the old branch) only
 * once no running search can still hold an older history. docs/architecture.md
 * ("Deploying workflow changes") has the procedure.
 */
export const Patches = {
  /** 2026-12: each finished round also upserts the memo `lastRound` (round, subset size, cutoff score), shown in the UI. */
  roundMemo: 'winnow-round-memo-v1',
  /** 2026-12: scorePoolShards children run two at a time, so one child's start hides behind the other's tail. */
  overlapScoringChildren: 'winnow-overlap-scoring-children-v1',
} as const;
