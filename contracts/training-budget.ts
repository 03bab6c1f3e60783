/**
 * The training a model gets for a given number of samples. With
 * `training.minSteps`, a model on few samples runs more epochs so that it
 * takes at least that many optimizer steps; its checkpoint epochs and step
 * milestones stretch by the same factor, so an ensemble keeps its shape
 * (e.g. checkpoints at half and all of training). Pure: the workflow, the
 * bench's work estimate and the tests share it.
 */
import type { SearchConfig } from './config';

type Training = SearchConfig['training'];
/** The settings an activity trains with: minSteps already applied. */
export type ResolvedTraining = Omit<Training, 'minSteps'>;

export interface TrainingBudget {
  training: ResolvedTraining;
  checkpointEpochs: number[];
  /** Optimizer steps per epoch and over the whole run. */
  stepsPerEpoch: number;
  steps: number;
}

/** Batches per epoch exactly as the training loop makes them (the batch never exceeds the sample count). */
export function stepsPerEpoch(samples: number, batchSize: number): number {
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`training needs at least one sample, got ${samples}`);
  return Math.ceil(samples / Math.min(batchSize, samples));
}

export function trainingBudget(
  training: Training,
  checkpointEpochs: readonly number[],
  samples: number,
): TrainingBudget {
  const { minSteps, ...settings } = training;
  const perEpoch = stepsPerEpoch(samples, settings.batchSize);
  const epochs = Math.max(settings.epochs, minSteps === undefined ? 0 : Math.ceil(minSteps / perEpoch));
  const stretch = (epoch: number): number =>
    Math.min(epochs, Math.max(1, Math.round((epoch * epochs) / settings.epochs)));
  const schedule =
    settings.schedule.kind === 'step' && epochs !== settings.epochs
      ? { ...settings.schedule, milestones: settings.schedule.milestones.map(stretch) }
      : settings.schedule;
  return {
    training: { ...settings, epochs, schedule },
    // A stretch factor >= 1 keeps distinct epochs distinct (neighbours move apart by at least 1 before rounding).
    checkpointEpochs: epochs === settings.epochs ? [...checkpointEpochs] : checkpointEpochs.map(stretch),
    stepsPerEpoch: perEpoch,
    steps: perEpoch * epochs,
  };
}
