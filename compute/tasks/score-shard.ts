/**
 * Compute task: score one shard of the pool with every ensemble checkpoint.
 * Checkpoints are loaded one at a time and their softmax outputs folded into
 * running sums (never samples x models x classes); the shard's scores are
 * written as one float per sample. A detector's class maps are folded per
 * map cell (rows = images x cells, classes = categories + background) and the
 * cells' scores reduced per image (max, mean or sum). Runs in the compute child.
 */
import { createAccumulator, foldMember, type EnsembleAccumulator } from '../../domain/acquisition/ensemble-accumulator';
import { randomScores, scoreAccumulator, type AcquisitionFunction } from '../../domain/acquisition/acquisition-scores';
import { serialiseScoreShard } from '../../domain/acquisition/score-shard-codec';
import { keepAccumulator, type KeptAccumulator } from '../../domain/acquisition/accumulator-store';
import { openDataset, type DatasetSpec } from '../../domain/data';
import type { LocationReduction } from '../../domain/acquisition/location-reduction';
import { isDetectionSpec, type DetectionDatasetSpec } from '../../contracts/detection-data-spec';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { detectorGeometry } from '../../domain/ml/detector-model';
import { predictClassMaps } from '../../domain/ml/detector-predict';
import { predictProbabilities } from '../../domain/ml/predict';
import type * as tf from '@tensorflow/tfjs';
import { openWorkerStore } from '../../domain/storage/worker-store';
import { initComputeBackend } from '../backend';
import { PhaseClock, type PhaseSeconds } from '../phase-clock';
import { withContext } from './checkpoint-store';
import { loadInferenceModel } from './inference-models';
import { openDetectionTaskDataset } from './task-datasets';

export interface ScoreShardInput {
  storageRoot: string;
  /** A classification set, or a detection set: then every class-map cell is scored and the cells reduced per image. */
  dataset: DatasetSpec | DetectionDatasetSpec;
  /** Detection: how an image's per-cell scores become one (default max). */
  reduction?: LocationReduction;
  /** Global index range of the shard in the training split. */
  start: number;
  count: number;
  /** Checkpoint URIs (members x checkpoints); unused by `random`. */
  checkpoints: string[];
  function: AcquisitionFunction;
  seed: number;
  /** Where the scores go (artifactPaths.scoreShard). */
  outputKey: string;
  /** Where the shard's ensemble accumulator goes (artifactPaths.accumulatorShard), for reacquire; absent: not kept. */
  accumulatorKey?: string;
  batchSize?: number;
}

export interface ScoreShardProgress {
  modelsFolded: number;
  models: number;
}

export interface ScoreShardResult {
  uri: string;
  sha256: string;
  start: number;
  count: number;
  models: number;
  /** Summary of the shard's scores, for reports. */
  min: number;
  max: number;
  mean: number;
  /** The compute backend that ran the models (absent for random scores, and in results recorded before it was added). */
  backend?: string;
  /** Seconds per phase inside the task (absent in results recorded before it was added). */
  phases?: PhaseSeconds;
  /** The kept accumulator (absent for random scores and when no accumulatorKey was given). */
  accumulatorUri?: string;
  accumulatorSha256?: string;
}

export async function scoreShard(
  input: ScoreShardInput,
  report: (p: ScoreShardProgress) => void,
): Promise<ScoreShardResult> {
  const clock = new PhaseClock();
  const store = openWorkerStore(input.storageRoot);
  let scores: Float32Array;
  let backend: string | undefined;
  let kept: KeptAccumulator | undefined;
  if (input.function === 'random') {
    scores = randomScores(input.start, input.count, input.seed);
  } else {
    if (input.checkpoints.length === 0)
      throw new Error(`shard at ${input.start}: ${input.function} needs at least one checkpoint`);
    backend = (await clock.time('backendInit', () => initComputeBackend())).name;
    const shard = await clock.time('dataRead', () => readShard(input));
    if (shard.detection && input.accumulatorKey !== undefined)
      throw new TypedTaskError(FailureType.InvalidConfig, `shard at ${input.start}: detection keeps no accumulators`);
    let accumulator: EnsembleAccumulator | undefined;
    for (const [member, uri] of input.checkpoints.entries()) {
      const role = `shard at ${input.start}, ensemble model ${member + 1} of ${input.checkpoints.length}`;
      const loaded = await loadInferenceModel(store, uri, role, clock);
      try {
        const { rows, locations, classes } = clock.timeSync('compute', () => shard.predict(loaded.model));
        accumulator ??= createAccumulator({ samples: input.count, locations, classes, globalStart: input.start });
        if (accumulator.locations !== locations || accumulator.classes !== classes) {
          throw new TypedTaskError(
            FailureType.InvalidData,
            `${role}: ${locations} locations x ${classes} classes, where the ensemble's first model has ${accumulator.locations} x ${accumulator.classes}`,
          );
        }
        const into = accumulator;
        clock.timeSync('compute', () => {
          try {
            foldMember(into, rows, { member });
          } catch (err) {
            // NaN or infinite outputs: a diverged member must stop the search, never feed the scores.
            throw withContext(err, `${role}, checkpoint ${uri}`);
          }
        });
      } finally {
        loaded.release();
      }
      report({ modelsFolded: member + 1, models: input.checkpoints.length });
    }
    const folded = accumulator!;
    scores = clock.timeSync('compute', () =>
      scoreAccumulator(folded, input.function, { seed: input.seed, reduction: input.reduction ?? 'max' }),
    );
    const accumulatorKey = input.accumulatorKey;
    if (accumulatorKey !== undefined)
      kept = await clock.time('write', () => keepAccumulator(store, accumulatorKey, folded));
  }
  const stored = await clock.time('write', () =>
    store.put(input.outputKey, serialiseScoreShard({ globalStart: input.start, scores })),
  );
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const s of scores) {
    if (s < min) min = s;
    if (s > max) max = s;
    sum += s;
  }
  return {
    uri: stored.uri,
    sha256: stored.sha256,
    start: input.start,
    count: input.count,
    models: input.function === 'random' ? 0 : input.checkpoints.length,
    min,
    max,
    mean: input.count === 0 ? 0 : sum / input.count,
    backend,
    phases: clock.seconds,
    ...kept,
  };
}

interface ShardPredictions {
  /** rows = samples x locations, each a distribution over `classes`. */
  rows: Float32Array;
  locations: number;
  classes: number;
}

interface ShardImages {
  detection: boolean;
  predict(model: tf.LayersModel): ShardPredictions;
}

/** The shard's images and how one ensemble model's distributions are read from them. */
async function readShard(input: ScoreShardInput): Promise<ShardImages> {
  if (isDetectionSpec(input.dataset)) {
    const dataset = await openDetectionTaskDataset(input.dataset);
    const batch = await dataset.readRange('train', input.start, input.count);
    return {
      detection: true,
      predict: (model) => {
        const { mapHeight, mapWidth, classes } = detectorGeometry(model);
        const rows = predictClassMaps(model, batch.images, batch.count, input.batchSize);
        return { rows, locations: mapHeight * mapWidth, classes };
      },
    };
  }
  const dataset = await openDataset(input.dataset);
  const batch = await dataset.readRange('train', input.start, input.count);
  const { shape, numClasses } = dataset.info;
  return {
    detection: false,
    predict: (model) => ({
      rows: predictProbabilities(model, batch.images, batch.count, shape, input.batchSize),
      locations: 1,
      classes: numClasses,
    }),
  };
}
