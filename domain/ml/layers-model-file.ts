/**
 * Models that users bring: a tfjs LayersModel model.json (the format of tfjs's
 * model.save() and of tensorflowjs_converter from Keras) and its weight files.
 * Members either take the architecture with weights drawn from their own seed
 * (every initializer's seed is set from it before the layers are built) or the
 * file's weights. Every problem is an InvalidConfig naming the file.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { LayersModelFile } from '../../contracts/config';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { mixSeeds } from '../../contracts/seeded-hash';
import { siblingUri, type InputFileReader } from '../storage/input-files';

const weightSpecSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().min(0)),
  dtype: z.enum(['float32', 'int32', 'bool']),
  /** Quantized weights (tensorflowjs_converter --quantize_*): their stored size differs; tfjs decodes them. */
  quantization: z
    .object({ dtype: z.enum(['uint8', 'uint16', 'float16']), scale: z.number().optional(), min: z.number().optional() })
    .optional(),
});

const modelJsonSchema = z.object({
  format: z.literal('layers-model').optional(),
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: z
    .array(z.object({ paths: z.array(z.string().min(1)), weights: z.array(weightSpecSchema) }))
    .default([]),
});

/** A model.json and its weights, read and checked, not yet built. */
export interface LayersModelArtifacts {
  uri: string;
  modelTopology: Record<string, unknown>;
  weightSpecs: tf.io.WeightsManifestEntry[];
  /** The weight files' bytes, concatenated in manifest order; empty when the file has no weights. */
  weightData: ArrayBuffer;
  /** sha256 over model.json's bytes, then each weight file's. */
  fingerprint: string;
}

export interface ModelShapeExpectation {
  /** One sample's shape, [height, width, channels]. */
  inputShape: [number, number, number];
  numClasses: number;
}

function invalidModel(uri: string, why: string): TypedTaskError {
  return new TypedTaskError(FailureType.InvalidConfig, `model ${uri}: ${why}`, { nonRetryable: true });
}

/** Parses model.json text; pure. */
export function parseModelJson(
  text: string,
  uri: string,
): {
  modelTopology: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
} {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalidModel(uri, `is not JSON (${(err as Error).message})`);
  }
  const parsed = modelJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
    throw invalidModel(uri, `is not a tfjs LayersModel model.json (${problems})`);
  }
  return parsed.data;
}

/** Reads model.json and every weight file it names (paths relative to its folder). */
export async function readLayersModel(uri: string, read: InputFileReader): Promise<LayersModelArtifacts> {
  const json = await read(uri);
  const parsed = parseModelJson(json.toString('utf8'), uri);
  const hash = createHash('sha256').update(json);
  const parts: Buffer[] = [];
  for (const group of parsed.weightsManifest) {
    for (const file of group.paths) {
      const bytes = await read(siblingUri(uri, file)).catch((err: unknown) => {
        if (err instanceof TypedTaskError) throw invalidModel(uri, `its weight file ${file}: ${err.message}`);
        throw err;
      });
      hash.update(bytes);
      parts.push(bytes);
    }
  }
  const weightSpecs = parsed.weightsManifest.flatMap((group) => group.weights);
  const all = Buffer.concat(parts);
  const expected = weightSpecs.reduce(
    (sum, spec) => sum + (spec.dtype === 'bool' ? 1 : 4) * spec.shape.reduce((p, q) => p * q, 1),
    0,
  );
  if (!weightSpecs.some((spec) => spec.quantization) && all.byteLength !== expected) {
    throw invalidModel(
      uri,
      `its weight files hold ${all.byteLength} bytes, the manifest's ${weightSpecs.length} weights need ${expected}`,
    );
  }
  return {
    uri,
    modelTopology: parsed.modelTopology,
    weightSpecs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
    fingerprint: hash.digest('hex'),
  };
}

/**
 * A copy of the topology in which every initializer that takes a seed gets one
 * derived from `seed` and its position, so that a member's fresh weights are
 * the same on every run and backend and differ between members. Pure.
 */
export function reseedInitializers(topology: Record<string, unknown>, seed: number): Record<string, unknown> {
  let next = 0;
  const walk = (value: unknown, key: string): unknown => {
    if (Array.isArray(value)) return value.map((item) => walk(item, key));
    if (value === null || typeof value !== 'object') return value;
    const object = value as Record<string, unknown>;
    const config = object.config as Record<string, unknown> | undefined;
    if (key.endsWith('_initializer') && config && typeof config === 'object' && 'seed' in config) {
      return { ...object, config: { ...config, seed: mixSeeds(seed, next++) % 2147483647 } };
    }
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, walk(v, k)]));
  };
  return walk(topology, '') as Record<string, unknown>;
}

/** Builds a member's model: the file's weights (`init: "weights"`) or fresh ones from `seed`. */
export async function buildLayersModel(
  artifacts: LayersModelArtifacts,
  init: LayersModelFile['init'],
  seed: number,
): Promise<tf.LayersModel> {
  if (init === 'weights' && artifacts.weightSpecs.length === 0) {
    throw invalidModel(artifacts.uri, 'init "weights" needs weights, but the model.json lists no weight files');
  }
  try {
    if (init === 'weights') {
      return await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: artifacts.modelTopology,
          weightSpecs: artifacts.weightSpecs,
          weightData: artifacts.weightData,
        }),
      );
    }
    return await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: reseedInitializers(artifacts.modelTopology, seed) }),
    );
  } catch (err) {
    if (err instanceof TypedTaskError) throw err;
    // tfjs reports unknown layers ("Unknown layer: Foo"), bad configs and weight mismatches as plain Errors.
    throw invalidModel(artifacts.uri, `tfjs cannot build it: ${(err as Error).message}`);
  }
}

/** Checks that the model maps the dataset's images to its classes; InvalidConfig naming both shapes otherwise. */
export function checkModelShapes(model: tf.LayersModel, uri: string, expected: ModelShapeExpectation): void {
  const problems: string[] = [];
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    problems.push(`it has ${model.inputs.length} inputs and ${model.outputs.length} outputs, winnow needs one of each`);
  } else {
    const input = model.inputs[0].shape.slice(1);
    const output = model.outputs[0].shape.slice(1);
    if (input.length !== 3 || input.some((d, i) => d !== null && d !== expected.inputShape[i])) {
      problems.push(`its input is [${input.map(String)}], the dataset's images are [${expected.inputShape}]`);
    }
    if (output.length !== 1 || output[0] !== expected.numClasses) {
      problems.push(`its output is [${output.map(String)}], the dataset has ${expected.numClasses} classes`);
    }
  }
  if (problems.length > 0) throw invalidModel(uri, problems.join('; '));
}

/** What a search records about a model from a file: its fingerprint and the shapes it was checked against. */
export interface LayersModelDescription {
  uri: string;
  fingerprint: string;
  parameters: number;
  hasWeights: boolean;
}

/** Reads, builds and checks a model from a file once, before any training; the model is disposed. */
export async function describeLayersModel(
  file: LayersModelFile,
  expected: ModelShapeExpectation,
  read: InputFileReader,
): Promise<LayersModelDescription> {
  const artifacts = await readLayersModel(file.uri, read);
  const model = await buildLayersModel(artifacts, file.init, 0);
  try {
    checkModelShapes(model, file.uri, expected);
    return {
      uri: file.uri,
      fingerprint: artifacts.fingerprint,
      parameters: model.countParams(),
      hasWeights: artifacts.weightSpecs.length > 0,
    };
  } finally {
    model.dispose();
  }
}
