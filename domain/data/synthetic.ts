/**
 * A seeded, learnable classification set for tests. Each class has a smooth
 * prototype image (a random coarse grid, bilinearly upsampled); a sample is
 * its class prototype plus Gaussian pixel noise. A chosen fraction of the
 * training samples are exact duplicates of other samples (redundant) and
 * another fraction carry a wrong label (harmful); which ones is exposed as
 * ground truth. Every sample is generated on demand from (seed, split,
 * index), so reads cost O(samples read) and results never depend on history.
 * A clean set holds nothing per sample (10 million samples open at once); a
 * corrupted one plans its corruption, O(training samples), on first read.
 */
import { z } from 'zod';
import { assembleDataset, type ByteBatch, type Dataset, type Split, type SplitSource } from './dataset';
import { sha256Json } from './file-hash';
import { generatorSeedSchema } from '../../contracts/detection-data-spec';

export { generatorSeedSchema };

export const syntheticSpecSchema = z
  .strictObject({
    seed: generatorSeedSchema,
    height: z.number().int().min(1).max(512).default(8),
    width: z.number().int().min(1).max(512).default(8),
    channels: z.union([z.literal(1), z.literal(3)]).default(1),
    numClasses: z.number().int().min(2).max(256).default(10),
    trainSize: z.number().int().min(1).default(2000),
    testSize: z.number().int().min(1).default(500),
    /** Standard deviation of the pixel noise, in units of the [0, 1] pixel range. */
    noise: z.number().min(0).max(4).default(0.3),
    duplicateFraction: z.number().min(0).max(0.9).default(0),
    mislabelFraction: z.number().min(0).max(0.9).default(0),
  })
  .refine((s) => s.duplicateFraction + s.mislabelFraction <= 0.95, {
    message: 'duplicateFraction + mislabelFraction must be at most 0.95',
    path: ['mislabelFraction'],
  });

export type SyntheticSpecInput = z.input<typeof syntheticSpecSchema>;
export type SyntheticSpec = z.output<typeof syntheticSpecSchema>;

/** Which training samples were corrupted on purpose. Test samples are never corrupted. */
export interface SyntheticGroundTruth {
  /** For each training sample: the index of the sample it copies, or -1. */
  duplicateOf: Int32Array;
  /** 1 where the training label was deliberately changed. */
  mislabeled: Uint8Array;
  /** The class each training image really shows. */
  cleanLabels: Int32Array;
}

export interface SyntheticDataset extends Dataset {
  readonly spec: SyntheticSpec;
  readonly groundTruth: SyntheticGroundTruth;
}

const GENERATOR_VERSION = 1;
const GRID = 4;

/** 32-bit integer hash (murmur3's finaliser) used to derive independent streams. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A small-state generator (xorshift32 seeded through `mix`); uniform in [0, 1). */
export function seededUniform(...keys: number[]): () => number {
  let state = 0x9e3779b9;
  for (const key of keys) state = mix(state ^ mix(key >>> 0) ^ Math.floor(key / 2 ** 32));
  if (state === 0) state = 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

const STREAM = { prototype: 1, label: 2, pixels: 3, plan: 4, flip: 5 } as const;
const SPLIT_CODE: Record<Split, number> = { train: 11, test: 12 };

function makePrototypes(spec: SyntheticSpec): Float32Array[] {
  const { height: h, width: w, channels: c } = spec;
  return Array.from({ length: spec.numClasses }, (_, k) => {
    const random = seededUniform(spec.seed, STREAM.prototype, k);
    const grid = Float32Array.from({ length: GRID * GRID * c }, () => 0.1 + 0.8 * random());
    const proto = new Float32Array(h * w * c);
    for (let y = 0; y < h; y++) {
      const gy = h === 1 ? 0 : (y / (h - 1)) * (GRID - 1);
      const y0 = Math.min(Math.floor(gy), GRID - 2);
      const fy = gy - y0;
      for (let x = 0; x < w; x++) {
        const gx = w === 1 ? 0 : (x / (w - 1)) * (GRID - 1);
        const x0 = Math.min(Math.floor(gx), GRID - 2);
        const fx = gx - x0;
        for (let ch = 0; ch < c; ch++) {
          const at = (gyy: number, gxx: number) => grid[(gyy * GRID + gxx) * c + ch];
          const top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx;
          const bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx;
          proto[(y * w + x) * c + ch] = top * (1 - fy) + bottom * fy;
        }
      }
    }
    return proto;
  });
}

function cleanLabelsOf(spec: SyntheticSpec, split: Split, count: number): Int32Array {
  return Int32Array.from({ length: count }, (_, i) =>
    Math.floor(seededUniform(spec.seed, STREAM.label, SPLIT_CODE[split], i)() * spec.numClasses),
  );
}

/** Picks exactly round(fraction x N) duplicates and mislabeled samples, disjoint; duplicates copy clean originals. */
function planCorruption(spec: SyntheticSpec): { truth: SyntheticGroundTruth; observed: Int32Array } {
  const n = spec.trainSize;
  const cleanLabels = cleanLabelsOf(spec, 'train', n);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const random = seededUniform(spec.seed, STREAM.plan);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const duplicates = Math.min(Math.round(spec.duplicateFraction * n), n - 1);
  const mislabels = Math.min(Math.round(spec.mislabelFraction * n), n - 1 - duplicates);
  const duplicateOf = new Int32Array(n).fill(-1);
  const mislabeled = new Uint8Array(n);
  const clean = n - duplicates - mislabels;
  for (let k = 0; k < duplicates; k++) {
    const source = order[duplicates + mislabels + Math.floor(random() * clean)];
    duplicateOf[order[k]] = source;
    cleanLabels[order[k]] = cleanLabels[source];
  }
  const observed = cleanLabels.slice();
  for (let k = duplicates; k < duplicates + mislabels; k++) {
    const i = order[k];
    mislabeled[i] = 1;
    const shift = 1 + Math.floor(seededUniform(spec.seed, STREAM.flip, i)() * (spec.numClasses - 1));
    observed[i] = (cleanLabels[i] + shift) % spec.numClasses;
  }
  return { truth: { duplicateOf, mislabeled, cleanLabels }, observed };
}

export function createSyntheticDataset(input: SyntheticSpecInput = {}): SyntheticDataset {
  const spec = syntheticSpecSchema.parse(input);
  const prototypes = makePrototypes(spec);
  const sampleBytes = spec.height * spec.width * spec.channels;
  // Without corruption every label and image follows from its index alone: nothing per sample is held, so a pool
  // of millions opens at once in every process that reads it. The corruption plan shuffles the whole split, so a
  // corrupted set plans it on first use.
  const corrupted = spec.duplicateFraction > 0 || spec.mislabelFraction > 0;
  let plan: ReturnType<typeof planCorruption> | undefined;
  const planned = (): ReturnType<typeof planCorruption> => (plan ??= planCorruption(spec));
  const cleanLabelOf = (split: Split, index: number): number =>
    Math.floor(seededUniform(spec.seed, STREAM.label, SPLIT_CODE[split], index)() * spec.numClasses);

  /** Writes the image of sample `index` (whose true class is `label`) at `offset`. */
  const drawImage = (split: Split, index: number, label: number, out: Uint8Array, offset: number) => {
    const random = seededUniform(spec.seed, STREAM.pixels, SPLIT_CODE[split], index);
    const proto = prototypes[label];
    for (let p = 0; p < sampleBytes; p += 2) {
      // Box-Muller: two independent normals per pair of uniforms.
      const radius = spec.noise * Math.sqrt(-2 * Math.log(1 - random()));
      const angle = 2 * Math.PI * random();
      out[offset + p] = toByte(proto[p] + radius * Math.cos(angle));
      if (p + 1 < sampleBytes) out[offset + p + 1] = toByte(proto[p + 1] + radius * Math.sin(angle));
    }
  };

  const source = (split: Split): SplitSource => {
    const count = split === 'train' ? spec.trainSize : spec.testSize;
    const truthOf = split === 'train' && corrupted ? planned : undefined;
    let allLabels: Int32Array | undefined;
    return {
      count,
      maxGap: 0,
      readRuns: async (runs) =>
        runs.map((run): ByteBatch => {
          const pixels = new Uint8Array(run.count * sampleBytes);
          const labels = new Int32Array(run.count);
          const corruption = truthOf?.();
          for (let k = 0; k < run.count; k++) {
            const i = run.start + k;
            if (corruption) {
              const { truth, observed } = corruption;
              const imageOf = truth.duplicateOf[i] >= 0 ? truth.duplicateOf[i] : i;
              drawImage(split, imageOf, truth.cleanLabels[imageOf], pixels, k * sampleBytes);
              labels[k] = observed[i];
            } else {
              labels[k] = cleanLabelOf(split, i);
              drawImage(split, i, labels[k], pixels, k * sampleBytes);
            }
          }
          return { count: run.count, pixels, labels };
        }),
      readLabels: async () =>
        truthOf?.().observed ?? (allLabels ??= Int32Array.from({ length: count }, (_, i) => cleanLabelOf(split, i))),
    };
  };

  const dataset = assembleDataset({
    info: {
      kind: 'synthetic',
      name: `synthetic (seed ${spec.seed}, ${spec.height}x${spec.width}x${spec.channels}, ${spec.numClasses} classes)`,
      samples: { train: spec.trainSize, test: spec.testSize },
      shape: [spec.height, spec.width, spec.channels],
      numClasses: spec.numClasses,
    },
    sources: { train: source('train'), test: source('test') },
    computeFingerprint: async () =>
      sha256Json({
        format: 'synthetic',
        generator: GENERATOR_VERSION,
        seed: spec.seed,
        shape: [spec.height, spec.width, spec.channels],
        numClasses: spec.numClasses,
        samples: [spec.trainSize, spec.testSize],
        noise: spec.noise,
        duplicateFraction: spec.duplicateFraction,
        mislabelFraction: spec.mislabelFraction,
      }),
  });
  return {
    ...dataset,
    spec,
    /** Planned on first access: a clean set of millions never holds it unless asked. */
    get groundTruth() {
      return planned().truth;
    },
  };
}

function toByte(value: number): number {
  return value <= 0 ? 0 : value >= 1 ? 255 : Math.round(value * 255);
}
