/**
 * The subset search (DESIGN.md, "The method"). Each run of this workflow is
 * one round: train the ensemble on the current subset, score the pool,
 * acquire the most uncertain samples, evaluate when a target size is
 * reached, then continue-as-new carrying only references and small numbers.
 * The plumbing (activity options, windows, progress) lives in round-steps.ts.
 */
import { allHandlersFinished, ApplicationFailure, condition, continueAsNew, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { formatConfigProblems, parseSearchConfig, type SearchConfig } from '../contracts/config';
import { pauseSignal, progressQuery, resumeSignal, setTargetsUpdate, stopAfterRoundSignal } from './definitions';
import { FailureType } from '../contracts/failures';
import { acquireNext, evaluateAt, prepareSearch, scorePool, SearchTracker, trainEnsemble } from './round-steps';
import { acquisitionSize, invalidTargets, type EvaluationRow, type AccuracySummary, type RoundSummary, type SearchState } from './search-plan';
import { WinnowStatus } from './search-attributes';

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
  rounds: RoundSummary[];
  computeBackend: string;
}

export async function subsetSearch(input: unknown, carried?: SearchState): Promise<SearchResult> {
  const config = validateConfig(input);
  const tracker = new SearchTracker(config, carried, workflowInfo().workflowId);
  installControls(tracker);
  try {
    const state = carried ?? (await prepareSearch(config, tracker));
    if (config.scheme === 'compress') return await compress(config, state, tracker);

    // Build up: one round per workflow run.
    const k = acquisitionSize(config, state.subset?.count ?? 0, state.control.targets);
    if (k > 0) {
      await tracker.gate();
      const ensemble = await trainEnsemble(config, state, tracker);
      await tracker.gate();
      const scores = await scorePool(config, state, ensemble.checkpoints, tracker, retrainAfterCorruption(config, state, tracker));
      await tracker.gate();
      const next = await acquireNext(config, state, ensemble.checkpoints, scores.uris, k, tracker);
      const stopping = tracker.control.stopAfterRound;
      if (state.control.targets.includes(next.count) || stopping) {
        await tracker.gate();
        await evaluateAt(config, state, next, tracker);
      }
      tracker.finishRound(state, next, ensemble.meanLoss);
      if (!stopping && acquisitionSize(config, next.count, state.control.targets) > 0) {
        await condition(allHandlersFinished);
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

/** The progress query, pause/resume/stop signals and the setTargets update. */
function installControls(tracker: SearchTracker): void {
  const control = tracker.control;
  setHandler(progressQuery, () => tracker.snapshot());
  setHandler(pauseSignal, () => {
    control.paused = true;
  });
  setHandler(resumeSignal, () => {
    control.paused = false;
  });
  setHandler(stopAfterRoundSignal, () => {
    control.stopAfterRound = true;
  });
  setHandler(
    setTargetsUpdate,
    (targets) => {
      control.targets = [...targets];
      return control.targets;
    },
    {
      validator: (targets) => {
        const problem = invalidTargets(targets, tracker.progress.subsetSize, tracker.progress.poolSize);
        if (problem) throw new Error(`setTargets refused: ${problem}`);
      },
    },
  );
}

/** Compress: one ensemble on the whole pool, then the most uncertain samples at each target size. */
async function compress(config: SearchConfig, state: SearchState, tracker: SearchTracker): Promise<SearchResult> {
  const ensemble = await trainEnsemble(config, state, tracker);
  await tracker.gate();
  const scores = await scorePool(config, state, ensemble.checkpoints, tracker, retrainAfterCorruption(config, state, tracker));
  for (const target of [...state.control.targets]) {
    await tracker.gate();
    const subset = await acquireNext(config, state, ensemble.checkpoints, scores.uris, target, tracker, target);
    await evaluateAt(config, state, subset, tracker);
    tracker.finishRound(state, subset, ensemble.meanLoss);
    if (tracker.control.stopAfterRound) break;
  }
  return tracker.finish(config, state);
}

/**
 * A checkpoint that fails its checksum is never scored with: the members are
 * trained again with the same inputs, which passes over damaged states and
 * rewrites them from the last intact one (intact members return at once).
 */
function retrainAfterCorruption(config: SearchConfig, state: SearchState, tracker: SearchTracker): () => Promise<void> {
  return async () => {
    await trainEnsemble(config, state, tracker);
    tracker.enter('scoring', 'scoring again: a member whose checkpoint was corrupt has been retrained');
  };
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
