/** Checkpoints in the artifact store: two objects under one key prefix. */
import type { ArtifactStore, StoredObject } from '../../domain/storage/store';
import { decodeCheckpoint, type CheckpointFiles, type DecodedCheckpoint } from '../../domain/ml/checkpoint';
import { FailureType, TypedTaskError } from '../../contracts/failures';

export async function putCheckpoint(store: ArtifactStore, key: string, files: CheckpointFiles): Promise<StoredObject> {
  // Weights first: checkpoint.json (which records their digest) marks the checkpoint complete.
  await store.put(`${key}/weights.bin`, files['weights.bin']);
  return store.put(`${key}/checkpoint.json`, files['checkpoint.json']);
}

/** `ref` is the checkpoint's key prefix or the URI of its checkpoint.json. */
export async function getCheckpoint(store: ArtifactStore, ref: string): Promise<DecodedCheckpoint> {
  const key = store.keyOf(ref).replace(/\/checkpoint\.json$/, '');
  const [json, weights] = await Promise.all([store.get(`${key}/checkpoint.json`), store.get(`${key}/weights.bin`)]);
  return decodeCheckpoint({ 'checkpoint.json': json, 'weights.bin': weights }, store.uriOf(key));
}

/**
 * Loads an ensemble checkpoint for inference. A failure keeps its type and
 * says which model of the ensemble it was (`role`, e.g. "ensemble model 3 of 4"),
 * so a corrupt or diverged member is named, never silently used.
 */
export async function loadEnsembleCheckpoint(
  store: ArtifactStore,
  ref: string,
  role: string,
): Promise<DecodedCheckpoint> {
  try {
    return await getCheckpoint(store, ref);
  } catch (err) {
    throw withContext(err, `${role}, checkpoint ${ref}`);
  }
}

/** Prefixes a typed task error's message with `context`, keeping its failure type; other errors pass through. */
export function withContext(err: unknown, context: string): unknown {
  const failureType = (err as { failureType?: unknown } | null)?.failureType;
  if (err instanceof Error && typeof failureType === 'string')
    return new TypedTaskError(failureType, `${context}: ${err.message}`);
  return err;
}

/** Throws Diverged when a model's outputs hold NaN or infinity, naming the first bad sample. */
export function assertFinitePredictions(
  probabilities: Float32Array,
  classes: number,
  firstSample: number,
  context: string,
): void {
  for (let i = 0; i < probabilities.length; i++) {
    const v = probabilities[i];
    if (!(v - v === 0)) {
      const sample = Math.floor(i / classes);
      throw new TypedTaskError(
        FailureType.Diverged,
        `${context}: prediction for sample ${firstSample + sample}, class ${i % classes} is ${v}; ` +
          'the member that wrote this checkpoint diverged: retrain it with a lower learning rate',
      );
    }
  }
}
