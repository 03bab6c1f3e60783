/**
 * The training loop of one detector (detector-model.ts) on in-memory images
 * and their objects, in the shape of trainModel (train.ts): seeded shuffling
 * and flips per epoch and batch (a run resumed at a batch repeats exactly what
 * an uninterrupted one would do), an LR schedule, a callback after every
 * epoch, and graceful interruption with the position inside the epoch.
 * Knows nothing of Temporal or storage.
 */
import * as tf from '@tensorflow/tfjs';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { mixSeeds, mulberry32, seededPermutation } from '../../contracts/seeded-hash';
import { encodeTargets, type TargetOptions } from '../detection/targets';
import type { GroundTruthObject } from '../detection/types';
import { BOX_CHANNELS, detectorGeometry } from './detector-model';
import { defaultDetectorLossOptions, detectorLoss, targetTensors, type DetectorLossOptions } from './detector-loss';
import { learningRateAt } from './lr-schedule';
import {
  setLearningRate,
  TrainingInterrupted,
  type EpochMetrics,
  type EpochPosition,
  type TrainingSettings,
} from './train';
import { applyForTraining } from './training-forward';

export interface DetectorTrainingSettings extends Omit<TrainingSettings, 'augmentation'> {
  /** 'flip': each image mirrored left-right with probability 1/2, its boxes with it. */
  augmentation: 'none' | 'flip';
}

export const defaultDetectorTrainingSettings: DetectorTrainingSettings = {
  epochs: 30,
  batchSize: 32,
  optimizer: 'adam',
  learningRate: 0.002,
  momentum: 0.9,
  schedule: { kind: 'cosine', minFraction: 0.05 },
  augmentation: 'flip',
};

export interface DetectionSamples {
  count: number;
  /** count x H x W x C floats in [0, 1]. */
  images: Float32Array;
  /** Per image, its objects in input pixels. */
  objects: readonly (readonly GroundTruthObject[])[];
  shape: [number, number, number];
  /** Categories, background not counted. */
  numClasses: number;
}

/** trainModel's metrics: `loss` is the total, `accuracy` the share of centre cells whose most likely class is the object's. */
export interface DetectorEpochMetrics extends EpochMetrics {
  classLoss: number;
  boxLoss: number;
}

/** A point inside an epoch: trainModel's fields plus the sums of the loss parts and the centre cells seen. */
export interface DetectorEpochPosition extends EpochPosition {
  classLossSum?: number;
  boxLossSum?: number;
  centers?: number;
}

export interface DetectorTrainRun {
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  samples: DetectionSamples;
  settings: DetectorTrainingSettings;
  seed: number;
  /** First epoch to run (1-based); > 1 when resuming from a checkpoint. */
  firstEpoch?: number;
  /** Names the run in error messages, e.g. "round 2, member 3". */
  context: string;
  /** Where `firstEpoch` was interrupted: its first batches are already trained. */
  within?: DetectorEpochPosition;
  loss?: Partial<DetectorLossOptions>;
  /** Centre region of the class targets (the stride comes from the model). */
  targets?: Omit<TargetOptions, 'stride'>;
  /** After every epoch; 'stop' ends training there. */
  onEpochEnd?: (metrics: DetectorEpochMetrics) => Promise<void | 'stop'>;
  /** Asked after every batch; when true, `onInterrupt` saves the position and training stops with TrainingInterrupted. */
  shouldStop?: () => boolean;
  onInterrupt?: (epochsDone: number, position: DetectorEpochPosition) => Promise<void>;
}

/**
 * Mirrors each of the first `count` images of a [B, H, W, C] buffer left-right
 * with probability 1/2 (in place) and returns every image's objects, mirrored
 * where its image is. Pure and seeded.
 */
export function flipDetections(
  batch: Float32Array,
  objects: readonly (readonly GroundTruthObject[])[],
  count: number,
  shape: readonly [number, number, number],
  seed: number,
): GroundTruthObject[][] {
  const [h, w, c] = shape;
  const rand = mulberry32(seed);
  const out: GroundTruthObject[][] = [];
  for (let b = 0; b < count; b++) {
    if (rand() >= 0.5) {
      out.push([...objects[b]]);
      continue;
    }
    for (let y = 0; y < h; y++) {
      const row = (b * h + y) * w * c;
      for (let x = 0; x < w >> 1; x++) {
        const left = row + x * c;
        const right = row + (w - 1 - x) * c;
        for (let k = 0; k < c; k++) {
          const v = batch[left + k];
          batch[left + k] = batch[right + k];
          batch[right + k] = v;
        }
      }
    }
    out.push(objects[b].map((o) => ({ ...o, x: w - o.x - o.w })));
  }
  return out;
}

function checkSamples(samples: DetectionSamples, context: string): void {
  const [h, w, c] = samples.shape;
  if (samples.images.length !== samples.count * h * w * c || samples.objects.length !== samples.count) {
    throw new Error(
      `${context}: ${samples.count} images need ${samples.count * h * w * c} pixels and object lists; got ${samples.images.length} and ${samples.objects.length}`,
    );
  }
  if (samples.count === 0) throw new TypedTaskError(FailureType.InvalidData, `${context}: no training images`);
  samples.objects.forEach((list, i) => {
    for (const o of list) {
      if (!Number.isInteger(o.category) || o.category < 0 || o.category >= samples.numClasses) {
        throw new TypedTaskError(
          FailureType.InvalidData,
          `${context}: image ${i} has an object of category ${o.category}; categories are 0..${samples.numClasses - 1}`,
        );
      }
    }
  });
}

export async function trainDetector(run: DetectorTrainRun): Promise<DetectorEpochMetrics[]> {
  const { model, optimizer, samples, settings, seed } = run;
  checkSamples(samples, run.context);
  const geometry = detectorGeometry(model);
  const [h, w, c] = samples.shape;
  if (geometry.inputShape.join('x') !== samples.shape.join('x') || geometry.classes !== samples.numClasses + 1) {
    throw new Error(
      `${run.context}: the detector takes ${geometry.inputShape.join('x')} images and ${geometry.classes - 1} categories; the samples are ${samples.shape.join('x')} with ${samples.numClasses}`,
    );
  }
  const lossOptions = { ...defaultDetectorLossOptions, ...run.loss };
  const targetOptions: TargetOptions = { ...run.targets, stride: geometry.stride };
  const sampleSize = h * w * c;
  const batchSize = Math.min(settings.batchSize, samples.count);
  const batchImages = new Float32Array(batchSize * sampleSize);
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  const history: DetectorEpochMetrics[] = [];

  const firstEpoch = run.firstEpoch ?? 1;
  for (let epoch = firstEpoch; epoch <= settings.epochs; epoch++) {
    const started = Date.now();
    const learningRate = learningRateAt(settings.learningRate, settings.schedule, epoch, settings.epochs);
    setLearningRate(optimizer, learningRate);
    const order = seededPermutation(samples.count, mixSeeds(seed, epoch, 1));
    const skip = epoch === firstEpoch ? run.within : undefined;
    // Running sums as tensors: no read-back (and so no wait for the device) per batch.
    let sums: tf.Tensor[] = [
      skip?.lossSum ?? 0,
      skip?.classLossSum ?? 0,
      skip?.boxLossSum ?? 0,
      skip?.correct ?? 0,
    ].map((v) => tf.scalar(v));
    let centers = skip?.centers ?? 0;
    const position = async (batch: number): Promise<Required<DetectorEpochPosition>> => {
      const [lossSum, classLossSum, boxLossSum, correct] = await Promise.all(
        sums.map(async (s) => (await s.data())[0]),
      );
      return { batch, lossSum, correct, classLossSum, boxLossSum, centers };
    };
    for (let batch = skip?.batch ?? 0, start = batch * batchSize; start < samples.count; start += batchSize, batch++) {
      // Yield to the event loop so a stop request (an IPC message or a signal) can arrive between batches.
      if (run.shouldStop) await new Promise<void>((resolve) => setImmediate(resolve));
      if (batch > 0 && run.shouldStop?.()) {
        const at = await position(batch);
        sums.forEach((s) => s.dispose());
        await run.onInterrupt?.(epoch - 1, at);
        throw new TrainingInterrupted(epoch - 1, at, run.context);
      }
      const size = Math.min(batchSize, samples.count - start);
      let objects: (readonly GroundTruthObject[])[] = [];
      for (let i = 0; i < size; i++) {
        const index = order[start + i];
        batchImages.set(samples.images.subarray(index * sampleSize, (index + 1) * sampleSize), i * sampleSize);
        objects.push(samples.objects[index]);
      }
      if (settings.augmentation === 'flip')
        objects = flipDetections(batchImages, objects, size, samples.shape, mixSeeds(seed, epoch, batch, 2));
      const targets = targetTensors(encodeTargets(objects, samples.shape, targetOptions), lossOptions);
      centers += targets.centerCount;
      let next: tf.Tensor[];
      try {
        next = tf.tidy(() => {
          const xs = tf.tensor4d(batchImages.subarray(0, size * sampleSize), [size, h, w, c]);
          let kept: tf.Tensor[] = [];
          const total = optimizer.minimize(
            () => {
              // applyForTraining: model.apply with the fused conv blocks where the backend has them.
              const output = applyForTraining(model, xs);
              const loss = detectorLoss(output, targets, lossOptions);
              const logits = output
                .reshape([-1, geometry.classes + BOX_CHANNELS])
                .slice([0, 0], [-1, geometry.classes]);
              const hits = tf.equal(tf.argMax(logits, 1), targets.classes).toFloat().reshape([-1, 1]);
              // Kept past minimize's internal tidy for the epoch sums.
              kept = [loss.classLoss, loss.boxLoss, tf.sum(tf.mul(hits, targets.centers))].map((t) => tf.keep(t));
              return loss.total;
            },
            true,
            variables,
          ) as tf.Scalar;
          const [classLoss, boxLoss, correct] = kept;
          const added = [total.mul(size), classLoss.mul(size), boxLoss.mul(size), correct].map((t, i) =>
            sums[i].add(t),
          );
          kept.forEach((t) => t.dispose());
          return added;
        });
      } finally {
        [targets.classes, targets.weights, targets.boxes, targets.centers].forEach((t) => t.dispose());
      }
      sums.forEach((t) => t.dispose());
      sums = next;
    }
    const { lossSum, classLossSum, boxLossSum, correct } = await position(0);
    sums.forEach((s) => s.dispose());
    const loss = lossSum / samples.count;
    if (!Number.isFinite(loss)) {
      throw new TypedTaskError(
        FailureType.Diverged,
        `${run.context}, epoch ${epoch}: training loss is ${loss}; the detector diverged (lower the learning rate or check the boxes)`,
      );
    }
    const metrics: DetectorEpochMetrics = {
      epoch,
      loss,
      accuracy: centers === 0 ? 0 : correct / centers,
      classLoss: classLossSum / samples.count,
      boxLoss: boxLossSum / samples.count,
      learningRate,
      seconds: (Date.now() - started) / 1000,
    };
    history.push(metrics);
    if ((await run.onEpochEnd?.(metrics)) === 'stop') break;
  }
  return history;
}
