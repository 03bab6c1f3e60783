/**
 * Queries, signals and updates of the subset search, defined once and
 * imported by both the workflow and the client.
 */
import { defineQuery } from '@temporalio/workflow';

export const searchPhases = ['validating', 'probing-compute', 'writing-manifest', 'done'] as const;
export type SearchPhase = (typeof searchPhases)[number];

export interface SearchProgress {
  searchId: string;
  phase: SearchPhase;
  /** Rounds start at 0 (the initial subset). */
  round: number;
  /** Samples in the current subset (0 before the first subset exists). */
  subsetSize: number;
  /** Compute backend reported by the GPU worker, once known. */
  computeBackend?: string;
  updatedAt: string;
}

export const progressQuery = defineQuery<SearchProgress>('progress');
