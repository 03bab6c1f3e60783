/**
 * Compute task: accuracy, per-class accuracy and loss of one checkpoint, or of
 * an ensemble (mean of the checkpoints' probabilities), on a split; for a
 * detection set, COCO mAP (evaluate-detector.ts).
 */
import { classificationMetrics, type ClassificationMetrics } from '../../domain/ml/metrics';
import { predictProbabilities } from '../../domain/ml/predict';
import { openDataset, type DatasetSpec, type Split } from '../../domain/data';
import { openWorkerStore } from '../../domain/storage/worker-store';
import { initComputeBackend } from '../backend';
import { PhaseClock, type PhaseSeconds } from '../phase-clock';
import { assertFinitePredictions } from './checkpoint-store';
import { loadInferenceModel } from './inference-models';
import { isDetectionSpec, type DetectionDatasetSpec } from '../../contracts/detection-data-spec';
import { evaluateDetectorCheckpoints, type DetectionMetrics, type DetectionPreview } from './evaluate-detector';

export type { DetectionMetrics, DetectionPreview };

export interface EvaluateInput {
  storageRoot: string;
  dataset: DatasetSpec | DetectionDatasetSpec;
  split: Split;
  checkpoints: string[];
  batchSize?: number;
  /** Detection only: where a few test images with their predicted boxes go as PNGs (`<key>/<i>.png`). */
  previewKey?: string;
}

export interface DetectionEvaluation {
  detection: DetectionMetrics;
  previews?: DetectionPreview[];
}

interface EvaluatedBy {
  models: number;
  backend: string;
  /** Seconds per phase inside the task (absent in results recorded before it was added). */
  phases?: PhaseSeconds;
}

export type ClassificationEvaluateResult = ClassificationMetrics & EvaluatedBy;
export type EvaluateResult = ClassificationEvaluateResult | (DetectionEvaluation & EvaluatedBy);

export function evaluateCheckpoints(
  input: EvaluateInput & { dataset: DatasetSpec },
): Promise<ClassificationEvaluateResult>;
export function evaluateCheckpoints(input: EvaluateInput): Promise<EvaluateResult>;
export async function evaluateCheckpoints(input: EvaluateInput): Promise<EvaluateResult> {
  if (input.checkpoints.length === 0) throw new Error('evaluate: no checkpoint given');
  const clock = new PhaseClock();
  const backend = await clock.time('backendInit', () => initComputeBackend());
  const store = openWorkerStore(input.storageRoot);
  if (isDetectionSpec(input.dataset)) {
    const evaluated = await evaluateDetectorCheckpoints({ ...input, dataset: input.dataset }, store, clock);
    return { ...evaluated, models: input.checkpoints.length, backend: backend.name, phases: clock.seconds };
  }
  const spec = input.dataset;
  const dataset = await clock.time('dataRead', () => openDataset(spec));
  const batch = await clock.time('dataRead', () =>
    dataset.readRange(input.split, 0, dataset.info.samples[input.split]),
  );
  const numClasses = dataset.info.numClasses;
  const mean = new Float32Array(batch.count * numClasses);
  for (const [i, uri] of input.checkpoints.entries()) {
    const role = `evaluation on ${input.split}, model ${i + 1} of ${input.checkpoints.length}`;
    const loaded = await loadInferenceModel(store, uri, role, clock);
    try {
      clock.timeSync('compute', () => {
        const probabilities = predictProbabilities(
          loaded.model,
          batch.images,
          batch.count,
          dataset.info.shape,
          input.batchSize,
        );
        assertFinitePredictions(probabilities, numClasses, 0, `${role}, checkpoint ${uri}`);
        for (let i = 0; i < mean.length; i++) mean[i] += probabilities[i] / input.checkpoints.length;
      });
    } finally {
      loaded.release();
    }
  }
  return {
    ...clock.timeSync('compute', () => classificationMetrics(mean, batch.labels, numClasses)),
    models: input.checkpoints.length,
    backend: backend.name,
    phases: clock.seconds,
  };
}
