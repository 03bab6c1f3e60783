/**
 * Checkpoints as bytes: a model (topology + weights) plus, for resuming
 * training exactly, the optimizer's state. Two objects per checkpoint:
 * `checkpoint.json` (topology, weight specs, metadata with the sha256 of the
 * weights) and `weights.bin` (model weights then optimizer weights).
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { FailureType, TypedTaskError } from '../../contracts/failures';

export const CHECKPOINT_FORMAT = 'winnow-checkpoint/1';

const weightSpecSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().min(0)),
  dtype: z.enum(['float32', 'int32', 'bool', 'string', 'complex64']),
});

export const checkpointMetaSchema = z.object({
  /** Epochs completed when this checkpoint was taken (1-based). */
  epoch: z.number().int().min(0),
  seed: z.number().int(),
  loss: z.number().nullable(),
  accuracy: z.number().nullable(),
  /** Early stopping: accuracy on the held-out training samples after this epoch. */
  validationAccuracy: z.number().optional(),
  backend: z.string(),
  createdBy: z.string(),
  /** Taken inside epoch `epoch + 1` (graceful shutdown): batches done there and their running sums. */
  within: z
    .object({
      batch: z.number().int().min(1),
      lossSum: z.number(),
      correct: z.number().int().min(0),
      /** A detector's (train-detector.ts): its loss parts' sums and the centre cells seen. */
      classLossSum: z.number().optional(),
      boxLossSum: z.number().optional(),
      centers: z.number().int().min(0).optional(),
    })
    .optional(),
});
export type CheckpointMeta = z.infer<typeof checkpointMetaSchema>;

const checkpointJsonSchema = z.object({
  format: z.literal(CHECKPOINT_FORMAT),
  meta: checkpointMetaSchema,
  modelTopology: z.record(z.string(), z.unknown()),
  modelWeightSpecs: z.array(weightSpecSchema),
  modelWeightBytes: z.number().int().min(0),
  optimizerWeightSpecs: z.array(weightSpecSchema),
  weightsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  weightsBytes: z.number().int().min(0),
});

export interface CheckpointFiles {
  'checkpoint.json': Uint8Array;
  'weights.bin': Uint8Array;
}

export async function encodeCheckpoint(
  model: tf.LayersModel,
  optimizer: tf.Optimizer | undefined,
  meta: CheckpointMeta,
): Promise<CheckpointFiles> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.modelTopology || !artifacts.weightSpecs || !artifacts.weightData) {
    throw new Error('model.save produced no topology or weights');
  }
  const modelWeights = new Uint8Array(concatWeightData(artifacts.weightData));
  let optimizerSpecs: tf.io.WeightsManifestEntry[] = [];
  let optimizerWeights = new Uint8Array(0);
  if (optimizer) {
    const named = await optimizer.getWeights();
    const encoded = await tf.io.encodeWeights(named);
    optimizerSpecs = encoded.specs;
    optimizerWeights = new Uint8Array(encoded.data);
  }
  const weights = new Uint8Array(modelWeights.byteLength + optimizerWeights.byteLength);
  weights.set(modelWeights, 0);
  weights.set(optimizerWeights, modelWeights.byteLength);
  const json = {
    format: CHECKPOINT_FORMAT,
    meta,
    modelTopology: artifacts.modelTopology,
    modelWeightSpecs: artifacts.weightSpecs,
    modelWeightBytes: modelWeights.byteLength,
    optimizerWeightSpecs: optimizerSpecs,
    weightsSha256: sha256(weights),
    weightsBytes: weights.byteLength,
  };
  return { 'checkpoint.json': Buffer.from(JSON.stringify(json)), 'weights.bin': weights };
}

export interface DecodedCheckpoint {
  model: tf.LayersModel;
  meta: CheckpointMeta;
  /** Restores the optimizer's slots (momentum, Adam moments, iteration count). */
  restoreOptimizer(optimizer: tf.Optimizer): Promise<void>;
}

export type CheckpointHeader = z.infer<typeof checkpointJsonSchema>;

/** Parses and checks checkpoint.json; `where` names the checkpoint in error messages (its URI). */
export function parseCheckpointHeader(json: Uint8Array, where: string): CheckpointHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(json).toString('utf8'));
  } catch (err) {
    throw corrupt(where, `checkpoint.json is not JSON (${(err as Error).message})`);
  }
  const parsed = checkpointJsonSchema.safeParse(raw);
  if (!parsed.success) {
    throw corrupt(
      where,
      `checkpoint.json is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/** Throws CorruptArtifact unless weights.bin has the size and sha256 that checkpoint.json records. */
export function verifyCheckpointWeights(header: CheckpointHeader, weights: Uint8Array, where: string): void {
  if (weights.byteLength !== header.weightsBytes) {
    throw corrupt(where, `weights.bin has ${weights.byteLength} bytes, checkpoint.json says ${header.weightsBytes}`);
  }
  const actual = sha256(weights);
  if (actual !== header.weightsSha256) {
    throw corrupt(
      where,
      `weights.bin sha256 ${actual} does not match ${header.weightsSha256} recorded in checkpoint.json`,
    );
  }
}

/** The model's weights of a verified checkpoint as named tensors (the caller disposes them). */
export function decodeModelWeights(header: CheckpointHeader, weights: Uint8Array): tf.NamedTensorMap {
  const buffer = weights.buffer.slice(weights.byteOffset, weights.byteOffset + header.modelWeightBytes) as ArrayBuffer;
  return tf.io.decodeWeights(buffer, header.modelWeightSpecs as tf.io.WeightsManifestEntry[]);
}

/** `where` names the checkpoint in error messages (its URI). */
export async function decodeCheckpoint(files: CheckpointFiles, where: string): Promise<DecodedCheckpoint> {
  const c = parseCheckpointHeader(files['checkpoint.json'], where);
  const weights = files['weights.bin'];
  verifyCheckpointWeights(c, weights, where);
  const buffer = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: c.modelTopology,
      weightSpecs: c.modelWeightSpecs as tf.io.WeightsManifestEntry[],
      weightData: buffer.slice(0, c.modelWeightBytes),
    }),
  );
  return {
    model,
    meta: c.meta,
    async restoreOptimizer(optimizer) {
      if (c.optimizerWeightSpecs.length === 0) return;
      const named = tf.io.decodeWeights(
        buffer.slice(c.modelWeightBytes),
        c.optimizerWeightSpecs as tf.io.WeightsManifestEntry[],
      );
      const list = Object.entries(named).map(([name, tensor]) => ({ name, tensor }));
      try {
        await optimizer.setWeights(list);
      } finally {
        // The optimizer's variables keep their own references to the data.
        list.forEach(({ tensor }) => tensor.dispose());
      }
    },
  };
}

function concatWeightData(data: tf.io.WeightData): ArrayBuffer {
  if (data instanceof ArrayBuffer) return data;
  return tf.io.concatenateArrayBuffers(data);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function corrupt(where: string, what: string): TypedTaskError {
  return new TypedTaskError(
    FailureType.CorruptArtifact,
    `checkpoint ${where}: ${what}; it will be rewritten by retraining its member`,
  );
}
