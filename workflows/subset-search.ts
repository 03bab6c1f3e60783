/**
 * The subset search (docs/architecture.md, "One round"). Each run of this
 * workflow is one round: train the ensemble on the current subset, score the
 * pool, acquire the most uncertain samples, evaluate when a target size is
 * reached, then continue-as-new carrying only references and small numbers.
 * The steps are the Round's (round.ts); the controls are below.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { formatConfigProblems, parseSearchConfig, type SearchConfig } from '../contracts/config';
import { FailureType } from '../contracts/failures';
import {
  pauseSignal,
  progressQuery,
  resumeSignal,
  setTargetsUpdate,
  stopAfterRoundSignal,
  unpauseSignal,
} from './definitions';
import { prepareSearch } from './prepare-search';
import { Round } from './round';
import { searchResult, type SearchResult } from './search-result';
import { acquisitionSize, invalidTargets, type SearchState } from './search-plan';
import { SearchTracker } from './search-tracker';

export type { SearchResult };

export async function subsetSearch(input: unknown, carried?: SearchState): Promise<SearchResult> {
  const config = validateConfig(input);
  const tracker = new SearchTracker(config, carried, workflowInfo().workflowId);
  installControls(tracker);
  try {
    const state = carried ?? (await prepareSearch(config, tracker));
    const round = new Round(config, state, tracker);
    if (config.scheme === 'compress') return await compress(config, state, round, tracker);

    // Build up: one round per workflow run.
    const k = acquisitionSize(config, state.subset?.count ?? 0, state.control.targets);
    if (k > 0) {
      const ensemble = await round.train();
      const scores = await round.score(ensemble);
      const next = await round.extendSubset(ensemble, scores, k);
      const stopping = tracker.control.stopAfterRound;
      if (state.control.targets.includes(next.count) || stopping) await round.evaluate(next);
      round.finish(next, ensemble);
      if (!stopping && acquisitionSize(config, next.count, state.control.targets) > 0) {
        await condition(allHandlersFinished);
        const carry: SearchState = {
          ...state,
          round: state.round + 1,
          subset: next,
          lastCheckpoint: ensemble.checkpoints[0],
        };
        await continueAsNew<typeof subsetSearch>(input, carry);
      }
    }
    tracker.finish(state);
    return searchResult(config, state);
  } catch (err) {
    tracker.fail(err);
    throw err;
  }
}

/** Compress: one ensemble on the whole pool, then the most uncertain samples at each target size. */
async function compress(
  config: SearchConfig,
  state: SearchState,
  round: Round,
  tracker: SearchTracker,
): Promise<SearchResult> {
  const ensemble = await round.train();
  const scores = await round.score(ensemble);
  for (const target of [...state.control.targets]) {
    const subset = await round.keepMostUncertain(ensemble, scores, target);
    await round.evaluate(subset);
    round.finish(subset, ensemble);
    if (tracker.control.stopAfterRound) break;
  }
  tracker.finish(state);
  return searchResult(config, state);
}

/** The progress query, pause/unpause/stop signals and the setTargets update. */
function installControls(tracker: SearchTracker): void {
  const control = tracker.control;
  setHandler(progressQuery, () => tracker.snapshot());
  setHandler(pauseSignal, () => {
    control.paused = true;
  });
  const unpause = (): void => {
    control.paused = false;
  };
  setHandler(unpauseSignal, unpause);
  setHandler(resumeSignal, unpause);
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
