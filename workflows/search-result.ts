/** What a finished search returns, built from the state carried across its rounds. */
import type { SearchConfig } from '../contracts/config';
import type { AccuracySummary, EvaluationRow, RoundSummary, SearchState } from './search-plan';

export interface SearchResult {
  searchId: string;
  config: SearchConfig;
  storageRoot: string;
  poolSize: number;
  /** Classes in the dataset (bounds entropy and mutual information by ln C). */
  numClasses?: number;
  /** Subset manifest URI per target size. */
  subsets: Record<string, string>;
  evaluations: EvaluationRow[];
  full?: AccuracySummary;
  /** With evaluation.models: each model's full-set accuracy, in the config's order. */
  fullByModel?: Array<AccuracySummary | undefined>;
  /** Detection: the full set's mAP@.5 (`full` is its mAP@[.5:.95]). */
  fullMap50?: AccuracySummary;
  fullKeptEpochs?: number[];
  rounds: RoundSummary[];
  computeBackend: string;
}

export function searchResult(config: SearchConfig, state: SearchState): SearchResult {
  return {
    searchId: state.searchId,
    config,
    storageRoot: state.storageRoot,
    poolSize: state.pool.poolSize,
    numClasses: state.pool.numClasses,
    subsets: Object.fromEntries(state.evaluations.map((e) => [String(e.size), e.subsetUri])),
    evaluations: state.evaluations,
    full: state.full,
    ...(state.fullByModel ? { fullByModel: state.fullByModel } : {}),
    ...(state.fullMap50 ? { fullMap50: state.fullMap50 } : {}),
    ...(state.fullKeptEpochs ? { fullKeptEpochs: state.fullKeptEpochs } : {}),
    rounds: state.rounds,
    computeBackend: state.computeBackend,
  };
}
