/**
 * Pure part of bench:search-throughput: how many images a finished build-up search trained and scored in each
 * round's train and score steps, from its config and round summaries, and the rates those steps delivered
 * (images over the step's wall time as the workflow measured it, so scheduling and hand-overs count).
 */
import type { SearchConfig, SearchConfigInput } from '../contracts/config';
import { trainingBudget } from '../contracts/training-budget';
import type { RoundSummary } from '../workflows/search-plan';

/** The demo's config when issue 20 was filed (161 s of search time then). */
export const issue20DemoConfig: SearchConfigInput = {
  dataset: { kind: 'fashion-mnist' },
  scheme: 'build-up',
  initialSize: 2000,
  targets: [4000, 6000],
  acquisition: { function: 'entropy', step: 2000 },
  ensemble: { members: 2, checkpointEpochs: [2, 3] },
  training: { epochs: 3 },
  shardSize: 15000,
};

export interface StepWork {
  /** Images trained (members x epochs x subset) or predictions made (pool x checkpoints). */
  images: number;
  /** Wall seconds of the step, summed over rounds. */
  seconds: number;
}

export interface SearchThroughput {
  rounds: number;
  train: StepWork;
  score: StepWork;
  /** Evaluation models' training images (AL, random and full-set models) and the evaluate steps' seconds. */
  evaluate: StepWork;
  /** Test-split predictions of the evaluation models. */
  testPredictions: number;
}

/** What a search evaluated: the sizes of its evaluation rows, and whether the full-set baseline ran. */
export interface EvaluatedWork {
  sizes: number[];
  fullBaseline: boolean;
  testSamples: number;
}

/** Train and score work of a build-up search's rounds; refuses compress searches (one ensemble, no rounds of training). */
export function searchThroughput(
  config: SearchConfig,
  poolSize: number,
  rounds: RoundSummary[],
  evaluated: EvaluatedWork,
): SearchThroughput {
  if (config.evaluation.earlyStopping || config.evaluation.models)
    throw new Error('search-throughput: early stopping and evaluation.models are not counted');
  if (config.scheme !== 'build-up') throw new Error(`search-throughput: ${config.scheme} searches are not measured`);
  if (rounds.length === 0) throw new Error('search-throughput: the search finished no round');
  const checkpoints = config.ensemble.members * config.ensemble.checkpointEpochs.length;
  const train: StepWork = { images: 0, seconds: 0 };
  const score: StepWork = { images: 0, seconds: 0 };
  for (const r of rounds) {
    // A round trains on the subset it started with: the one it ended with, less what it added.
    const trainedOn = r.subsetSize - r.added;
    const epochs = trainingBudget(config.training, config.ensemble.checkpointEpochs, trainedOn).training.epochs;
    train.images += config.ensemble.members * epochs * trainedOn;
    train.seconds += r.seconds.train;
    score.images += poolSize * checkpoints;
    score.seconds += r.seconds.score;
  }
  const { repeats, randomBaseline } = config.evaluation;
  const epochsOn = (samples: number): number =>
    trainingBudget(config.training, [config.training.epochs], samples).training.epochs;
  const models = evaluated.sizes.length * (randomBaseline ? 2 : 1) * repeats + (evaluated.fullBaseline ? repeats : 0);
  const evaluate: StepWork = {
    images:
      evaluated.sizes.reduce((a, size) => a + (randomBaseline ? 2 : 1) * repeats * epochsOn(size) * size, 0) +
      (evaluated.fullBaseline ? repeats * epochsOn(poolSize) * poolSize : 0),
    seconds: rounds.reduce((a, r) => a + r.seconds.evaluate, 0),
  };
  return { rounds: rounds.length, train, score, evaluate, testPredictions: models * evaluated.testSamples };
}

/**
 * Seconds the search's compute takes at the kernels' rates, one task at a time: every trained image at the
 * training ceiling, every prediction (pool and test) at the inference ceiling.
 */
export function computeFloorSeconds(t: SearchThroughput, ceiling: { train: number; infer: number }): number {
  return (t.train.images + t.evaluate.images) / ceiling.train + (t.score.images + t.testPredictions) / ceiling.infer;
}

/** Images per second of a step, or NaN when it took no time. */
export function rateOf(step: StepWork): number {
  return step.seconds > 0 ? step.images / step.seconds : Number.NaN;
}
