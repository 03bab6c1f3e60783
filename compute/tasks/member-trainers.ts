/**
 * What trainMember needs to know of a task: how many samples the member trains
 * on, how a fresh model is built, and which training loop runs it. The
 * classification trainer reads labelled samples and runs trainModel; the
 * detection trainer reads images with their boxes and runs trainDetector. The
 * checkpoints, resume points and graceful stops around them are shared
 * (train-member.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import type { LayersModelFile } from '../../contracts/config';
import { detectorNames, type DetectorName } from '../../contracts/config';
import { isDetectionSpec, type DetectionDatasetSpec } from '../../contracts/detection-data-spec';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { openDataset, type Dataset, type DatasetSpec, type SampleBatch } from '../../domain/data';
import { predictProbabilities } from '../../domain/ml/predict';
import { classificationMetrics } from '../../domain/ml/metrics';
import { buildDetector, type DetectorStride } from '../../domain/ml/detector-model';
import { trainDetector, type DetectionSamples } from '../../domain/ml/train-detector';
import { buildLayersModel, checkModelShapes, readLayersModel } from '../../domain/ml/layers-model-file';
import { buildModel, type ModelName } from '../../domain/ml/models';
import {
  trainModel,
  type EpochMetrics,
  type TrainingSamples,
  type TrainingSettings,
  type TrainRun,
} from '../../domain/ml/train';
import type { ArtifactStore } from '../../domain/storage/store';
import { readInputFile } from '../../domain/storage/input-files';
import { openDetectionTaskDataset } from './task-datasets';

/** A built-in model or detector by name, or a tfjs-layers model from a file (contracts/config.ts). */
export type ModelChoice = { name: ModelName | DetectorName; width?: number } | LayersModelFile;

/** trainModel's settings, with detection's left-right flip beside classification's crop-flip. */
export interface MemberTrainingSettings extends Omit<TrainingSettings, 'augmentation'> {
  augmentation: 'none' | 'crop-flip' | 'flip';
}

/** A training run as trainMember drives it: the trainer supplies the samples and the settings' task-specific part. */
export type MemberRun = Omit<TrainRun, 'samples' | 'settings'>;

export interface MemberTrainer {
  /** Samples (images) the member trains on per epoch. */
  count: number;
  build(seed: number): Promise<tf.LayersModel>;
  train(run: MemberRun): Promise<EpochMetrics[]>;
  /** With early stopping: the model's accuracy on the held-out training samples. */
  validationAccuracy?(model: tf.LayersModel): number;
}

/** Early stopping's held-out samples: a range of the training split outside the pool. */
export interface EarlyStoppingInput {
  validationStart: number;
  validationSamples: number;
  /** Epochs without a gain in validation accuracy before training stops. */
  patience: number;
}

export interface TrainerInput {
  dataset: DatasetSpec | DetectionDatasetSpec;
  model: ModelChoice;
  training: MemberTrainingSettings;
  subsetUri: string | null;
  context: string;
  earlyStopping?: EarlyStoppingInput;
}

/** The trainer for the input's task, its samples read (the subset's, or the whole training split). */
export async function openMemberTrainer(store: ArtifactStore, input: TrainerInput): Promise<MemberTrainer> {
  const indices = input.subsetUri === null ? null : await readSubsetIndices(store, input.subsetUri);
  return isDetectionSpec(input.dataset)
    ? detectionTrainer(input, input.dataset, indices)
    : classificationTrainer(input, input.dataset, indices);
}

async function readSubsetIndices(store: ArtifactStore, uri: string): Promise<ArrayLike<number>> {
  return parseSubsetManifest((await store.get(uri)).toString('utf8'), uri).indices;
}

function isDetectorChoice(choice: ModelChoice): choice is { name: DetectorName; width?: number } {
  return !('kind' in choice) && (detectorNames as readonly string[]).includes(choice.name);
}

function refuse(context: string, message: string): never {
  throw new TypedTaskError(FailureType.InvalidConfig, `${context}: ${message}`);
}

async function classificationTrainer(
  input: TrainerInput,
  spec: DatasetSpec,
  indices: ArrayLike<number> | null,
): Promise<MemberTrainer> {
  const { training, model: choice } = input;
  if (training.augmentation === 'flip') refuse(input.context, 'augmentation "flip" is for detection; use "crop-flip"');
  if (isDetectorChoice(choice))
    refuse(input.context, `${choice.name} is a detector; classification data needs a classifier`);
  const dataset = await openDataset(spec);
  const samples = await loadTrainingSamples(dataset, indices);
  const settings: TrainingSettings = { ...training, augmentation: training.augmentation };
  const validation = input.earlyStopping && (await readValidationSamples(spec, input.earlyStopping, input.context));
  return {
    count: samples.count,
    build: (seed) => buildMemberModel(choice, dataset, seed),
    train: (run) => trainModel({ ...run, samples, settings }),
    ...(validation
      ? { validationAccuracy: (model: tf.LayersModel) => accuracyOf(model, validation, dataset.info.shape) }
      : {}),
  };
}

/** The held-out range of the training split, read past dataset.limit (the pool ends where it starts). */
async function readValidationSamples(
  spec: DatasetSpec,
  early: EarlyStoppingInput,
  context: string,
): Promise<SampleBatch> {
  const whole = await openDataset({ ...spec, limit: undefined });
  const available = whole.info.samples.train;
  if (early.validationStart + early.validationSamples > available)
    refuse(
      context,
      `early stopping holds out training samples ${early.validationStart}..${early.validationStart + early.validationSamples - 1}, but the training split has ${available}; lower dataset.limit or evaluation.earlyStopping.validationSamples`,
    );
  return whole.readRange('train', early.validationStart, early.validationSamples);
}

function accuracyOf(model: tf.LayersModel, batch: SampleBatch, shape: readonly [number, number, number]): number {
  const probabilities = predictProbabilities(model, batch.images, batch.count, shape);
  return classificationMetrics(probabilities, batch.labels, probabilities.length / batch.count).accuracy;
}

async function detectionTrainer(
  input: TrainerInput,
  spec: DetectionDatasetSpec,
  indices: ArrayLike<number> | null,
): Promise<MemberTrainer> {
  const { training, model: choice } = input;
  if (input.earlyStopping) refuse(input.context, 'early stopping validates accuracy: classification only');
  if (training.augmentation === 'crop-flip')
    refuse(input.context, 'augmentation "crop-flip" is for classification; detection takes "none" or "flip"');
  if (!isDetectorChoice(choice))
    refuse(
      input.context,
      `detection data needs a detector (${detectorNames.join(', ')}), not ${'kind' in choice ? choice.uri : choice.name}`,
    );
  const dataset = await openDetectionTaskDataset(spec);
  const batch = await readTrainingBatch(dataset, indices);
  const { shape, numClasses } = dataset.info;
  const samples: DetectionSamples = {
    count: batch.count,
    images: batch.images,
    objects: batch.objects,
    shape,
    numClasses,
  };
  const augmentation = training.augmentation;
  return {
    count: samples.count,
    build: async (seed) =>
      buildDetector({ inputShape: shape, numClasses, stride: detectorStride(choice.name), width: choice.width, seed }),
    train: (run) => trainDetector({ ...run, samples, settings: { ...training, augmentation } }),
  };
}

export function detectorStride(name: DetectorName): DetectorStride {
  return name === 'detector-s8' ? 8 : 4;
}

/** The subset's training samples, or the whole training split; either kind of data set. */
function readTrainingBatch<B>(
  dataset: {
    info: { samples: { train: number } };
    readRange(split: 'train', start: number, count: number): Promise<B>;
    readIndices(split: 'train', indices: ArrayLike<number>): Promise<B>;
  },
  indices: ArrayLike<number> | null,
): Promise<B> {
  return indices === null
    ? dataset.readRange('train', 0, dataset.info.samples.train)
    : dataset.readIndices('train', indices);
}

async function loadTrainingSamples(dataset: Dataset, indices: ArrayLike<number> | null): Promise<TrainingSamples> {
  const { shape, numClasses } = dataset.info;
  const batch = await readTrainingBatch(dataset, indices);
  return { count: batch.count, images: batch.images, labels: batch.labels, shape, numClasses };
}

/** A member's fresh model: a built-in one, or one from a file (its own weights, or fresh ones from `seed`). */
async function buildMemberModel(choice: ModelChoice, dataset: Dataset, seed: number): Promise<tf.LayersModel> {
  const { shape: inputShape, numClasses } = dataset.info;
  if (!('kind' in choice)) {
    if (isDetectorChoice(choice)) throw new Error(`${choice.name} is a detector, not a classifier`);
    return buildModel({ name: choice.name as ModelName, width: choice.width, inputShape, numClasses, seed });
  }
  const model = await buildLayersModel(
    await readLayersModel(choice.uri, (uri) => readInputFile(uri)),
    choice.init,
    seed,
  );
  try {
    checkModelShapes(model, choice.uri, { inputShape, numClasses });
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
