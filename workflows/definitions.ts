/**
 * Queries, signals and updates of the subset search, defined once and
 * imported by both the workflow and the client.
 */
import { defineQuery } from '@temporalio/workflow';
import type { AccuracySummary, EvaluationRow, RoundSummary } from './search-plan';

export const searchPhases = ['validating', 'preparing', 'training', 'scoring', 'acquiring', 'evaluating', 'done'] as const;
export type SearchPhase = (typeof searchPhases)[number];

export interface SearchProgress {
  searchId: string;
  phase: SearchPhase;
  /** Rounds start at 0 (the initial subset). */
  round: number;
  /** Samples in the current subset (0 before the first subset exists). */
  subsetSize: number;
  poolSize?: number;
  targets: number[];
  membersTrained: number;
  members: number;
  shardsScored: number;
  shards: number;
  rounds: RoundSummary[];
  evaluations: EvaluationRow[];
  full?: AccuracySummary;
  /** Compute backend reported by the GPU worker, once known. */
  computeBackend?: string;
  /** Rough time to finish, from the mean round time so far; absent until one round is done. */
  etaSeconds?: number;
  updatedAt: string;
}

export const progressQuery = defineQuery<SearchProgress>('progress');
