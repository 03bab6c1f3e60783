/**
 * Queries, signals and updates of the subset search, defined once and
 * imported by both the workflow and the client.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AccuracySummary, EvaluationRow, RoundSummary } from './search-plan';

export const searchPhases = [
  'validating',
  'preparing',
  'training',
  'scoring',
  'acquiring',
  'evaluating',
  'paused',
  'done',
] as const;
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
  /** With evaluation.models: each model's full-set accuracy, in the config's order. */
  fullByModel?: Array<AccuracySummary | undefined>;
  /** Detection: the full set's mAP@.5 (`full` is its mAP@[.5:.95]). */
  fullMap50?: AccuracySummary;
  /** Compute backend reported by the GPU worker, once known. */
  computeBackend?: string;
  /** Paused by the pause signal (the phase says where it will go on). */
  paused: boolean;
  /** A stop after the current round was requested. */
  stopping: boolean;
  /** Rough time to finish, from the mean round time so far; absent until one round is done. */
  etaSeconds?: number;
  updatedAt: string;
}

export const progressQuery = defineQuery<SearchProgress>('progress');

/** Pause after the step in flight (training, scoring, acquiring or evaluating) finishes. */
export const pauseSignal = defineSignal('pause');
/** A paused search goes on. */
export const unpauseSignal = defineSignal('unpause');
/** The name `unpause` had before; still handled, for clients that send it. */
export const resumeSignal = defineSignal('resume');
/** Finish after the round in flight: its subset is still evaluated, then the search completes. */
export const stopAfterRoundSignal = defineSignal('stopAfterRound');
/** Replace the remaining target sizes; returns the targets now in force. Rejected when not ascending or not beyond the current subset. */
export const setTargetsUpdate = defineUpdate<number[], [number[]]>('setTargets');
