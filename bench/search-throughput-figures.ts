/**
 * Pure part of bench:search-throughput: how many images a finished build-up search trained and scored in each
 * round's train and score steps, from its config and round summaries, and the rates those steps delivered
 * (images over the step's wall time as the workflow measured it, so scheduling and hand-overs count).
 */
import type { SearchConfig, SearchConfigInput } from '../contracts/config';
import { trainingBudget } from '../contracts/training-budget';
import type { RoundSummary } from '../workflows/search-plan';
import type { Work } from './reproduce-plan';

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
}

/** Train and score work of a build-up search's rounds; refuses compress searches (one ensemble, no rounds of training). */
export function searchThroughput(config: SearchConfig, poolSize: number, rounds: RoundSummary[]): SearchThroughput {
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
  return { rounds: rounds.length, train, score };
}

/**
 * Seconds a search's whole compute (reproduce-plan's searchWork: members and evaluation models trained, pool and
 * test predictions) takes at the kernels' rates, one task at a time.
 */
export function computeFloorSeconds(work: Work, ceiling: { train: number; infer: number }): number {
  return work.trainSampleEpochs / ceiling.train + work.predictions / ceiling.infer;
}

/** Images per second of a step, or NaN when it took no time. */
export function rateOf(step: StepWork): number {
  return step.seconds > 0 ? step.images / step.seconds : Number.NaN;
}
