/**
 * What a search report shows, built from a finished search's result or from
 * the progress query of one still running. Pure.
 */
import type { AcquisitionFunction } from '../../domain/acquisition/acquisition-scores';
import type { SearchConfig } from '../../contracts/config';
import type { SearchPhase, SearchProgress } from '../../workflows/definitions';
import type { AccuracySummary, EvaluationRow, RoundSummary } from '../../workflows/search-plan';
import type { SearchResult } from '../../workflows/subset-search';

export type ReportStatus =
  | { state: 'finished' }
  | {
      state: 'running';
      phase: SearchPhase;
      round: number;
      subsetSize: number;
      paused: boolean;
      stopping: boolean;
      etaSeconds?: number;
      updatedAt: string;
    };

export interface ReportData {
  searchId: string;
  status: ReportStatus;
  config: SearchConfig;
  /** Where the artifacts live; undefined when neither the result nor the config says. */
  storageRoot?: string;
  poolSize?: number;
  acquisitionFunction: AcquisitionFunction;
  /** Target sizes in force. */
  targets: number[];
  evaluations: EvaluationRow[];
  full?: AccuracySummary;
  /** With evaluation.models: each model's full-set accuracy, in the config's order. */
  fullByModel?: Array<AccuracySummary | undefined>;
  /** Detection: the full set's mAP@.5 (`full` is its mAP@[.5:.95]). */
  fullMap50?: AccuracySummary;
  rounds: RoundSummary[];
  computeBackend?: string;
}

export function reportDataFromResult(result: SearchResult): ReportData {
  return {
    searchId: result.searchId,
    status: { state: 'finished' },
    config: result.config,
    storageRoot: result.storageRoot,
    poolSize: result.poolSize,
    acquisitionFunction: result.config.acquisition.function,
    targets: [...result.config.targets],
    evaluations: result.evaluations,
    full: result.full,
    fullByModel: result.fullByModel,
    fullMap50: result.fullMap50,
    rounds: result.rounds,
    computeBackend: result.computeBackend,
  };
}

/**
 * From the progress query of a search (running or done) and its config. The
 * progress does not carry the store root: pass the one the workers use when
 * the config names none.
 */
export function reportDataFromProgress(
  progress: SearchProgress,
  config: SearchConfig,
  storageRoot?: string,
): ReportData {
  const status: ReportStatus =
    progress.phase === 'done'
      ? { state: 'finished' }
      : {
          state: 'running',
          phase: progress.phase,
          round: progress.round,
          subsetSize: progress.subsetSize,
          paused: progress.paused,
          stopping: progress.stopping,
          etaSeconds: progress.etaSeconds,
          updatedAt: progress.updatedAt,
        };
  return {
    searchId: progress.searchId,
    status,
    config,
    storageRoot: storageRoot ?? config.storageRoot,
    poolSize: progress.poolSize,
    acquisitionFunction: config.acquisition.function,
    targets: [...progress.targets],
    evaluations: progress.evaluations,
    full: progress.full,
    fullByModel: progress.fullByModel,
    fullMap50: progress.fullMap50,
    rounds: progress.rounds,
    computeBackend: progress.computeBackend,
  };
}

/** The label of the active-learning series, e.g. "AL (entropy)". */
export function activeLearningLabel(data: Pick<ReportData, 'acquisitionFunction'>): string {
  return `AL (${data.acquisitionFunction})`;
}

export const RANDOM_LABEL = 'random subset';
export const FULL_LABEL = 'full set';

/** Rounds whose pool scores a report can show, ascending: every summarised round, and the one in flight. */
export function scoredRounds(data: ReportData): number[] {
  const rounds = new Set(data.rounds.map((r) => r.round));
  if (data.status.state === 'running' && ['scoring', 'acquiring', 'evaluating', 'paused'].includes(data.status.phase))
    rounds.add(data.status.round);
  return [...rounds].sort((a, b) => a - b);
}

/** Cutoff scores per round (compress keeps several targets from one round's scores). */
export function cutoffsByRound(rounds: readonly RoundSummary[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const r of rounds) {
    if (r.cutoffScore === null || !Number.isFinite(r.cutoffScore)) continue;
    out.set(r.round, [...(out.get(r.round) ?? []), r.cutoffScore]);
  }
  return out;
}

/** One evaluation table row as display text: accuracies in percent, "mean ± std" when repeated. */
export interface EvaluationTableRow {
  size: string;
  fraction: string;
  activeLearning: string;
  random: string;
  full: string;
  /** AL minus random, in percentage points. */
  gain: string;
  subsetUri: string;
}

export function formatAccuracy(summary: AccuracySummary | undefined): string {
  if (!summary) return '–';
  const mean = (100 * summary.mean).toFixed(2);
  return summary.runs.length > 1 ? `${mean} ± ${(100 * summary.std).toFixed(2)}` : mean;
}

/**
 * With evaluation.models: the report's data as seen by each evaluation model (its accuracies in place of the
 * first model's), labelled; else the data alone, unlabelled.
 */
export function perEvaluationModel(data: ReportData): Array<{ model?: string; data: ReportData }> {
  const models = data.evaluations[0]?.models;
  if (!models) return [{ data }];
  return models.map(({ model }, i) => ({
    model,
    data: {
      ...data,
      evaluations: data.evaluations.map((e) => ({
        ...e,
        activeLearning: e.models?.[i]?.activeLearning ?? e.activeLearning,
        random: e.models?.[i]?.random,
      })),
      full: data.fullByModel?.[i],
    },
  }));
}

export function evaluationTableRows(data: ReportData): EvaluationTableRow[] {
  return [...data.evaluations]
    .sort((a, b) => a.size - b.size)
    .map((e) => ({
      size: String(e.size),
      fraction: `${(100 * e.fraction).toFixed(1)}%`,
      activeLearning: formatAccuracy(e.activeLearning),
      random: formatAccuracy(e.random),
      full: formatAccuracy(data.full),
      gain: e.random ? signed(100 * (e.activeLearning.mean - e.random.mean)) : '–',
      subsetUri: e.subsetUri,
    }));
}

function signed(points: number): string {
  return `${points >= 0 ? '+' : '−'}${Math.abs(points).toFixed(2)}`;
}

export function totalSeconds(round: RoundSummary): number {
  const s = round.seconds;
  return s.train + s.score + s.acquire + s.evaluate;
}
