/**
 * The training loop of one model on in-memory samples: seeded shuffling and
 * augmentation per epoch (so a run resumed at epoch e repeats exactly what an
 * uninterrupted one would do), an LR schedule, and a callback after every
 * epoch for checkpoints and progress. Knows nothing of Temporal or storage.
 */
import * as tf from '@tensorflow/tfjs';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { cropAndFlip } from './augment';
import { FusedAdamOptimizer, FusedMomentumOptimizer } from './fused-optimizers';
import { learningRateAt, type LrSchedule } from './lr-schedule';
import { mixSeeds, seededPermutation } from '../../contracts/seeded-hash';
import { applyForTraining } from './training-forward';

export interface TrainingSettings {
  epochs: number;
  batchSize: number;
  optimizer: 'sgd-momentum' | 'adam';
  learningRate: number;
  /** SGD only. */
  momentum: number;
  schedule: LrSchedule;
  augmentation: 'none' | 'crop-flip';
}

export const defaultTrainingSettings: TrainingSettings = {
  epochs: 3,
  batchSize: 128,
  optimizer: 'adam',
  learningRate: 0.001,
  momentum: 0.9,
  schedule: { kind: 'constant' },
  augmentation: 'none',
};

export interface TrainingSamples {
  count: number;
  /** count x H x W x C floats. */
  images: Float32Array;
  labels: Int32Array;
  shape: [number, number, number];
  numClasses: number;
}

export interface EpochMetrics {
  epoch: number;
  loss: number;
  accuracy: number;
  learningRate: number;
  seconds: number;
}

export interface TrainRun {
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  samples: TrainingSamples;
  settings: TrainingSettings;
  seed: number;
  /** First epoch to run (1-based); > 1 when resuming from a checkpoint. */
  firstEpoch?: number;
  /** Names the run in error messages, e.g. "round 2, member 3". */
  context: string;
  /** Where `firstEpoch` was interrupted: its first batches are already trained. */
  within?: EpochPosition;
  /** After every epoch; 'stop' ends training there (early stopping). */
  onEpochEnd?: (metrics: EpochMetrics) => Promise<void | 'stop'>;
  /** Asked after every batch; when true, `onInterrupt` saves the position and training stops with TrainingInterrupted. */
  shouldStop?: () => boolean;
  onInterrupt?: (epochsDone: number, position: EpochPosition) => Promise<void>;
}

/** A point inside an epoch: batches done and the running loss and correct-count sums over them. */
export interface EpochPosition {
  batch: number;
  lossSum: number;
  correct: number;
}

/** Training stopped on request (worker shutdown) after saving its position; a retry resumes from there. */
export class TrainingInterrupted extends Error {
  constructor(
    readonly epochsDone: number,
    readonly position: EpochPosition,
    context: string,
  ) {
    super(
      `${context}: training interrupted in epoch ${epochsDone + 1} after batch ${position.batch}; its position was saved and a retry resumes there`,
    );
    this.name = 'TrainingInterrupted';
  }
}

/** tfjs's Adam or momentum optimizer; on tfjs-node with winnow's native ops each variable's update is one op (fused-optimizers.ts). */
export function createOptimizer<S extends Pick<TrainingSettings, 'optimizer' | 'learningRate' | 'momentum'>>(
  settings: S,
): tf.Optimizer {
  return settings.optimizer === 'adam'
    ? new FusedAdamOptimizer(settings.learningRate, 0.9, 0.999)
    : new FusedMomentumOptimizer(settings.learningRate, settings.momentum);
}

/** Sets the rate the next updates use (the epoch's point on the schedule). */
export function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  // Not instanceof: tfjs's Optimizer classes answer it by duck typing, so Adam "is" an SGDOptimizer.
  const sgd = optimizer as Partial<Pick<tf.SGDOptimizer, 'setLearningRate'>>;
  if (typeof sgd.setLearningRate === 'function') {
    // Momentum (an SGD subclass) multiplies by a scalar -rate built here, not by the field.
    sgd.setLearningRate(rate);
  } else {
    // Adam reads this field at every step; it is not exposed in its type.
    (optimizer as unknown as { learningRate: number }).learningRate = rate;
  }
}

export async function trainModel(run: TrainRun): Promise<EpochMetrics[]> {
  const { model, optimizer, samples, settings, seed } = run;
  const [h, w, c] = samples.shape;
  const sampleSize = h * w * c;
  if (samples.images.length !== samples.count * sampleSize || samples.labels.length !== samples.count) {
    throw new Error(
      `${run.context}: ${samples.count} samples need ${samples.count * sampleSize} pixels and labels; got ${samples.images.length} and ${samples.labels.length}`,
    );
  }
  if (samples.count === 0) throw new TypedTaskError(FailureType.InvalidData, `${run.context}: no training samples`);
  const batchSize = Math.min(settings.batchSize, samples.count);
  const batchImages = new Float32Array(batchSize * sampleSize);
  const batchLabels = new Int32Array(batchSize);
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  const history: EpochMetrics[] = [];

  const firstEpoch = run.firstEpoch ?? 1;
  for (let epoch = firstEpoch; epoch <= settings.epochs; epoch++) {
    const started = Date.now();
    const learningRate = learningRateAt(settings.learningRate, settings.schedule, epoch, settings.epochs);
    setLearningRate(optimizer, learningRate);
    const order = seededPermutation(samples.count, mixSeeds(seed, epoch, 1));
    // The same order and augmentation seeds per batch make a resumed epoch continue exactly where it stopped.
    const skip = epoch === firstEpoch ? run.within : undefined;
    let lossSum = tf.scalar(skip?.lossSum ?? 0);
    let correctSum = tf.scalar(skip?.correct ?? 0, 'int32');
    for (let batch = skip?.batch ?? 0, start = batch * batchSize; start < samples.count; start += batchSize, batch++) {
      // Yield to the event loop so a stop request (an IPC message or a signal) can arrive between batches.
      if (run.shouldStop) await new Promise<void>((resolve) => setImmediate(resolve));
      if (batch > 0 && run.shouldStop?.()) {
        const position = { batch, lossSum: (await lossSum.data())[0], correct: (await correctSum.data())[0] };
        lossSum.dispose();
        correctSum.dispose();
        await run.onInterrupt?.(epoch - 1, position);
        throw new TrainingInterrupted(epoch - 1, position, run.context);
      }
      const size = Math.min(batchSize, samples.count - start);
      for (let i = 0; i < size; i++) {
        const index = order[start + i];
        batchImages.set(samples.images.subarray(index * sampleSize, (index + 1) * sampleSize), i * sampleSize);
        batchLabels[i] = samples.labels[index];
      }
      if (settings.augmentation === 'crop-flip')
        cropAndFlip(batchImages, size, samples.shape, 4, mixSeeds(seed, epoch, batch, 2));
      const [nextLoss, nextCorrect] = tf.tidy(() => {
        const xs = tf.tensor4d(batchImages.subarray(0, size * sampleSize), [size, h, w, c]);
        const labels = tf.tensor1d(batchLabels.subarray(0, size), 'int32');
        const ys = tf.oneHot(labels, samples.numClasses);
        let logits: tf.Tensor | undefined;
        const loss = optimizer.minimize(
          () => {
            // Kept past minimize's internal tidy for the accuracy count; disposed just below.
            // applyForTraining: model.apply with fused conv and dense tails on tfjs-node (same results bit for bit).
            logits = tf.keep(applyForTraining(model, xs));
            return tf.losses.softmaxCrossEntropy(ys, logits) as tf.Scalar;
          },
          true,
          variables,
        ) as tf.Scalar;
        const kept = logits as unknown as tf.Tensor;
        const correct = tf.equal(tf.argMax(kept, 1), labels).sum();
        kept.dispose();
        return [lossSum.add(loss.mul(size)), correctSum.add(correct)];
      });
      lossSum.dispose();
      correctSum.dispose();
      lossSum = nextLoss;
      correctSum = nextCorrect;
    }
    const loss = (await lossSum.data())[0] / samples.count;
    const accuracy = (await correctSum.data())[0] / samples.count;
    lossSum.dispose();
    correctSum.dispose();
    if (!Number.isFinite(loss)) {
      throw new TypedTaskError(
        FailureType.Diverged,
        `${run.context}, epoch ${epoch}: training loss is ${loss}; the model diverged (lower the learning rate or check the data)`,
      );
    }
    const metrics = { epoch, loss, accuracy, learningRate, seconds: (Date.now() - started) / 1000 };
    history.push(metrics);
    if ((await run.onEpochEnd?.(metrics)) === 'stop') break;
  }
  return history;
}
