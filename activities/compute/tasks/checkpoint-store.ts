/** Checkpoints in the artifact store: two objects under one key prefix. */
import type { ArtifactStore, StoredObject } from '../../storage/store';
import { decodeCheckpoint, type CheckpointFiles, type DecodedCheckpoint } from '../../ml/checkpoint';

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
