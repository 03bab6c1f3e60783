/**
 * The subset search (DESIGN.md, "The method"). Each run of this workflow is
 * one round: train the ensemble on the current subset, score the pool,
 * acquire the most uncertain samples, evaluate when a target size is
 * reached, then continue-as-new carrying only references and small numbers.
 * The plumbing (activity options, windows, progress) lives in round-steps.ts.
 */
import { ApplicationFailure, continueAsNew, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { formatConfigProblems, parseSearchConfig, type SearchConfig } from './config';
import { progressQuery } from './definitions';
import { FailureType } from './failures';
import { acquireNext, evaluateAt, prepareSearch, scorePool, SearchTracker, trainEnsemble } from './round-steps';
import { acquisitionSize, type EvaluationRow, type AccuracySummary, type RoundSummary, type SearchState } from './search-plan';
import { WinnowStatus } from './search-attributes';

export interface SearchResult {
  searchId: string;
  config: SearchConfig;
  storageRoot: string;
  poolSize: number;
  /** Subset manifest URI per target size. */
  subsets: Record<string, string>;
  evaluations: EvaluationRow[];
  full?: AccuracySummary;
  rounds: RoundSummary[];
  computeBackend: string;
}

export async function subsetSearch(input: unknown, carried?: SearchState): Promise<SearchResult> {
  const config = validateConfig(input);
  const tracker = new SearchTracker(config, carried, workflowInfo().workflowId);
  setHandler(progressQuery, () => tracker.progress);
  try {
    const state = carried ?? (await prepareSearch(config, tracker));
    if (config.scheme === 'compress') return await compress(config, state, tracker);

    // Build up: one round per workflow run.
    const k = acquisitionSize(config, state.subset?.count ?? 0, state.targets);
    if (k > 0) {
      const ensemble = await trainEnsemble(config, state, tracker);
      const scores = await scorePool(config, state, ensemble.checkpoints, tracker);
      const next = await acquireNext(config, state, ensemble.checkpoints, scores.uris, k, tracker);
      if (state.targets.includes(next.count)) await evaluateAt(config, state, next, tracker);
      tracker.finishRound(state, next, ensemble.meanLoss);
      if (acquisitionSize(config, next.count, state.targets) > 0) {
        await continueAsNew<typeof subsetSearch>(input, { ...state, round: state.round + 1, subset: next, lastCheckpoint: ensemble.checkpoints[0] });
      }
    }
    return tracker.finish(config, state);
  } catch (err) {
    upsertSearchAttributes([{ key: WinnowStatus, value: 'failed' }]);
    tracker.fail(err);
    throw err;
  }
}

/** Compress: one ensemble on the whole pool, then the most uncertain samples at each target size. */
async function compress(config: SearchConfig, state: SearchState, tracker: SearchTracker): Promise<SearchResult> {
  const ensemble = await trainEnsemble(config, state, tracker);
  const scores = await scorePool(config, state, ensemble.checkpoints, tracker);
  for (const target of [...state.targets]) {
    const subset = await acquireNext(config, state, ensemble.checkpoints, scores.uris, target, tracker, target);
    await evaluateAt(config, state, subset, tracker);
    tracker.finishRound(state, subset, ensemble.meanLoss);
  }
  return tracker.finish(config, state);
}

function validateConfig(input: unknown): SearchConfig {
  const parsed = parseSearchConfig(input);
  if (parsed.ok) return parsed.config;
  throw ApplicationFailure.create({
    type: FailureType.InvalidConfig,
    message: formatConfigProblems(parsed.problems),
    details: [parsed.problems],
    nonRetryable: true,
  });
}
