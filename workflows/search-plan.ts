/**
 * Pure planning of a search: the state carried across continue-as-new, how
 * many samples the next round acquires, how the pool is cut into shards, and
 * the seeds of every member. No I/O, no Temporal: unit-testable alone.
 */
import { addPhaseSeconds, type PhaseSeconds } from '../contracts/task-phases';
import { mixSeeds } from '../contracts/seeded-hash';
import type { SearchConfig } from '../contracts/config';

export interface SubsetPointer {
  uri: string;
  count: number;
}

export interface PoolSummary {
  poolSize: number;
  testSize: number;
  numClasses: number;
  fingerprint: string;
}

export interface AccuracySummary {
  mean: number;
  std: number;
  runs: number[];
}

export interface EvaluationRow {
  size: number;
  fraction: number;
  subsetUri: string;
  activeLearning: AccuracySummary;
  random?: AccuracySummary;
  /** With evaluation.models: one entry per model, in the config's order (the first is also the row's own). */
  models?: ModelEvaluation[];
  /** Detection: the row's numbers are mAP@[.5:.95]; here mAP@.5 and a few test images with boxes drawn. */
  detection?: DetectionRowExtras;
  /** With evaluation.earlyStopping: the epoch each repeat's model kept (the first evaluation model), subset and random. */
  keptEpochs?: { activeLearning: number[]; random?: number[] };
}

/** A test image with a model's predicted boxes drawn (PNG in the store). */
export interface PreviewRef {
  uri: string;
  imageId: number;
  /** Boxes drawn (score >= 0.3) and the image's ground-truth objects. */
  drawn: number;
  objects: number;
}

export interface DetectionRowExtras {
  map50: { activeLearning: AccuracySummary; random?: AccuracySummary };
  /** From the first repeat's model of the subset and of its random baseline. */
  previews: { activeLearning?: PreviewRef[]; random?: PreviewRef[] };
}

/** One evaluation model's accuracies at one subset size. */
export interface ModelEvaluation {
  model: string;
  activeLearning: AccuracySummary;
  random?: AccuracySummary;
}

export interface RoundSummary {
  round: number;
  subsetSize: number;
  added: number;
  /** Lowest acquisition score that made it in. */
  cutoffScore: number | null;
  meanTrainLoss: number;
  seconds: { train: number; score: number; acquire: number; evaluate: number };
  /**
   * Task seconds per step and phase (process start, backend init, model build, data read, checkpoint read,
   * compute, write), summed over the step's compute tasks as they report them: tasks run in parallel, so a
   * step's sum can exceed its wall time. Scoring through child workflows is not included. Absent in rounds
   * recorded before tasks reported phases.
   */
  taskSeconds?: TaskSeconds;
}

export type TaskStep = 'train' | 'score' | 'evaluate';
export type TaskSeconds = Partial<Record<TaskStep, PhaseSeconds>>;

/** Adds one task's reported phases to `into`'s step. */
export function addTaskSeconds(into: TaskSeconds, step: TaskStep, phases: PhaseSeconds | undefined): void {
  if (phases) into[step] = addPhaseSeconds(into[step] ?? {}, phases);
}

/** What the controls (signals, updates) have set; carried across continue-as-new. */
export interface SearchControl {
  paused: boolean;
  stopAfterRound: boolean;
  /** Targets still in force (ascending). */
  targets: number[];
}

/** Why a new target list is refused, or undefined when it is acceptable. */
export function invalidTargets(targets: unknown, subsetSize: number, poolSize: number | undefined): string | undefined {
  if (!Array.isArray(targets) || targets.length === 0) return 'targets must be a non-empty array of sample counts';
  for (const [i, t] of targets.entries()) {
    if (!Number.isInteger(t) || t <= 0) return `targets.${i}: ${String(t)} is not a positive integer`;
    if (i > 0 && t <= targets[i - 1]) return `targets.${i}: targets must be strictly ascending`;
    if (poolSize !== undefined && t > poolSize)
      return `targets.${i}: ${t} is larger than the training set (${poolSize} samples)`;
  }
  if (targets[targets.length - 1] <= subsetSize)
    return `the last target must exceed the current subset size (${subsetSize})`;
  return undefined;
}

/** Everything a search needs to go on after continue-as-new: references and small numbers only. */
export interface SearchState {
  searchId: string;
  storageRoot: string;
  pool: PoolSummary;
  /** The round about to run. */
  round: number;
  /** The current subset; null = the whole pool (compress, round 0). */
  subset: SubsetPointer | null;
  /** Ensemble checkpoint of the last round to fine-tune from. */
  lastCheckpoint?: string;
  evaluations: EvaluationRow[];
  full?: AccuracySummary;
  rounds: RoundSummary[];
  /** Pause/stop flags and the targets in force (ascending). */
  control: SearchControl;
  computeBackend: string;
  startedAt: string;
  /** A model from a file, as checked at the start (absent for built-in models). */
  model?: ModelSummary;
  /** With evaluation.models: each model's full-set accuracy, in the config's order (trained once per search). */
  fullByModel?: Array<AccuracySummary | undefined>;
  /** Detection: the full set's mAP@.5 (`full` holds its mAP@[.5:.95]). */
  fullMap50?: AccuracySummary;
  /** With evaluation.earlyStopping: the epoch each full-set model kept. */
  fullKeptEpochs?: number[];
}

export interface ModelSummary {
  uri: string;
  /** sha256 of model.json and its weight files; recorded in every subset's lineage. */
  fingerprint: string;
  parameters: number;
}

export function defaultInitialSize(config: SearchConfig): number {
  return (
    config.initialSize ??
    Math.max(1, Math.min(config.acquisition.step ?? Math.floor(config.targets[0] / 2), config.targets[0] - 1))
  );
}

/** Samples the next build-up round acquires: the step, never past the next target. */
export function acquisitionSize(config: SearchConfig, subsetSize: number, targets: readonly number[]): number {
  const next = targets.find((t) => t > subsetSize);
  if (next === undefined) return 0;
  return Math.min(config.acquisition.step ?? next - subsetSize, next - subsetSize);
}

export interface ShardRange {
  index: number;
  start: number;
  count: number;
}

export function poolShards(poolSize: number, shardSize: number): ShardRange[] {
  const shards: ShardRange[] = [];
  for (let start = 0, index = 0; start < poolSize; start += shardSize, index++) {
    shards.push({ index, start, count: Math.min(shardSize, poolSize - start) });
  }
  return shards;
}

/** Consecutive groups of at most `perGroup` shards (one group when all fit). */
export function shardGroups<T>(shards: readonly T[], perGroup: number): T[][] {
  if (!Number.isInteger(perGroup) || perGroup < 1)
    throw new Error(`shards per group must be a positive integer, got ${perGroup}`);
  const groups: T[][] = [];
  for (let i = 0; i < shards.length; i += perGroup) groups.push(shards.slice(i, i + perGroup));
  return groups.length > 0 ? groups : [[]];
}

/** A seed in [0, 2^31 - 1) for one use (member, shard scores, tie-break...), mixed from the search seed and its coordinates. */
export function deriveSeed(...parts: number[]): number {
  return mixSeeds(...parts) % 2147483647;
}

export function summarise(runs: number[]): AccuracySummary {
  const mean = runs.reduce((a, b) => a + b, 0) / runs.length;
  const variance = runs.length > 1 ? runs.reduce((a, b) => a + (b - mean) ** 2, 0) / (runs.length - 1) : 0;
  return { mean, std: Math.sqrt(variance), runs };
}

/** Names every target that the pool cannot hold; empty when all fit. */
export function targetsBeyondPool(targets: readonly number[], poolSize: number): string[] {
  return targets.flatMap((t, i) =>
    t > poolSize ? [`targets.${i}: ${t} is larger than the training set (${poolSize} samples)`] : [],
  );
}
