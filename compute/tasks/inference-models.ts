/**
 * Ensemble checkpoints loaded for inference in a long-lived compute child:
 * the model is built once per architecture (topology digest) and only its
 * weights change between checkpoints; checkpoint weights are kept in a
 * bounded cache by URI and sha256, so the shards of one round read each
 * checkpoint once per child. Every read is still verified before first use.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { decodeModelWeights, parseCheckpointHeader, verifyCheckpointWeights } from '../../domain/ml/checkpoint';
import type { ArtifactStore } from '../../domain/storage/store';
import type { PhaseClock } from '../phase-clock';
import { BoundedCache } from './bounded-cache';
import { withContext } from './checkpoint-store';

export interface InferenceModel {
  model: tf.LayersModel;
  /** Hands the model back (a cached model stays built; a one-off model is disposed). */
  release(): void;
}

const megabytes = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw} is not a size in MiB`);
  return value * 2 ** 20;
};

/** Weights by checkpoint URI and sha256: verified bytes, bounded by WINNOW_CHECKPOINT_CACHE_MB (default 256; 0 turns it off). */
const weightCache = new BoundedCache<Uint8Array>(megabytes('WINNOW_CHECKPOINT_CACHE_MB', 256), (b) => b.byteLength);

interface BuiltModel {
  model: tf.LayersModel;
  inUse: boolean;
}
/** Built models by topology digest; a few architectures at most (search model, evaluation models). */
const MAX_MODELS = 4;
const builtModels = new Map<string, BuiltModel>();

function topologyDigest(topology: unknown, specs: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([topology, specs]))
    .digest('hex');
}

function remember(key: string, built: BuiltModel): void {
  builtModels.set(key, built);
  for (const [k, old] of builtModels) {
    if (builtModels.size <= MAX_MODELS) break;
    if (old.inUse) continue;
    old.model.dispose();
    builtModels.delete(k);
  }
}

/**
 * Loads one ensemble checkpoint (`ref`: its key prefix or checkpoint.json URI)
 * for inference. A failure keeps its type and names `role` and the checkpoint.
 */
export async function loadInferenceModel(
  store: ArtifactStore,
  ref: string,
  role: string,
  clock: PhaseClock,
): Promise<InferenceModel> {
  const key = store.keyOf(ref).replace(/\/checkpoint\.json$/, '');
  const where = store.uriOf(key);
  try {
    const json = await clock.time('checkpointRead', () => store.get(`${key}/checkpoint.json`));
    const header = parseCheckpointHeader(json, where);
    // By object and digest: another checkpoint with equal weights is still read (and verified) itself.
    const cacheKey = `${where} ${header.weightsSha256}`;
    let weights = weightCache.get(cacheKey);
    if (!weights) {
      const read = await clock.time('checkpointRead', () => store.get(`${key}/weights.bin`));
      verifyCheckpointWeights(header, read, where);
      weightCache.set(cacheKey, read);
      weights = read;
    }
    const digest = topologyDigest(header.modelTopology, header.modelWeightSpecs);
    let built = builtModels.get(digest);
    let cached = true;
    if (!built || built.inUse) {
      const model = await clock.time('modelBuild', () =>
        tf.models.modelFromJSON({ modelTopology: header.modelTopology } as tf.io.ModelJSON as never),
      );
      built = { model, inUse: false };
      if (builtModels.has(digest)) cached = false;
      else remember(digest, built);
    }
    const target = built;
    clock.timeSync('modelBuild', () => {
      const named = decodeModelWeights(header, weights);
      try {
        target.model.loadWeights(named);
      } finally {
        for (const t of Object.values(named)) t.dispose();
      }
    });
    target.inUse = true;
    return {
      model: target.model,
      release: () => {
        target.inUse = false;
        if (!cached) target.model.dispose();
      },
    };
  } catch (err) {
    throw withContext(err, `${role}, checkpoint ${ref}`);
  }
}

/** Drops every cached model and checkpoint (tests; an idle child exits instead). */
export function clearInferenceCaches(): void {
  for (const built of builtModels.values()) if (!built.inUse) built.model.dispose();
  builtModels.clear();
  weightCache.clear();
}
