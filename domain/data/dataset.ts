/**
 * The dataset layer's contract. Training, scoring and evaluation read samples
 * through it as plain typed arrays (no tensors here). Every format stores
 * pixels as bytes in HWC order; floats are those bytes scaled to [0, 1].
 */
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { planRuns, type Run } from './read-plan';

export const splits = ['train', 'test'] as const;
export type Split = (typeof splits)[number];

export interface DatasetInfo {
  kind: string;
  /** Human-readable: kind plus where it came from. */
  name: string;
  /** Samples per split. */
  samples: Record<Split, number>;
  /** One sample's shape, [height, width, channels]. */
  shape: [number, number, number];
  numClasses: number;
  classNames?: string[];
}

/** `count` samples, images as floats in [0, 1] laid out count x H x W x C. */
export interface SampleBatch {
  count: number;
  images: Float32Array;
  labels: Int32Array;
}

/** The same samples as raw bytes (0..255): a quarter of the memory, for caches. */
export interface ByteBatch {
  count: number;
  pixels: Uint8Array;
  labels: Int32Array;
}

export interface Dataset {
  readonly info: DatasetInfo;
  /** Stable content hash (hex sha256); computed once, then cached in memory. */
  fingerprint(): Promise<string>;
  readRange(split: Split, start: number, count: number): Promise<SampleBatch>;
  /** Samples at `indices`, returned in the order given (duplicates allowed). */
  readIndices(split: Split, indices: ArrayLike<number>): Promise<SampleBatch>;
  readRangeBytes(split: Split, start: number, count: number): Promise<ByteBatch>;
  readIndicesBytes(split: Split, indices: ArrayLike<number>): Promise<ByteBatch>;
  /** Every label of a split (cheap for IDX and synthetic sets; one pass over the file for CIFAR). */
  readLabels(split: Split): Promise<Int32Array>;
}

/** What a format supplies: reads of sorted, disjoint index runs of one split. */
export interface SplitSource {
  count: number;
  /** Unwanted records a read may pass over rather than start a new read (0 for decoded images). */
  maxGap: number;
  readRuns(runs: readonly Run[]): Promise<ByteBatch[]>;
  readLabels(): Promise<Int32Array>;
}

export interface DatasetParts {
  info: DatasetInfo;
  computeFingerprint: () => Promise<string>;
  sources: Record<Split, SplitSource>;
}

const byteToUnit = new Float32Array(256).map((_, i) => i / 255);

export function bytesToFloats(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = byteToUnit[pixels[i]];
  return out;
}

/** Builds a Dataset from a format's split sources: bounds checks, index coalescing, float conversion. */
export function assembleDataset(parts: DatasetParts): Dataset {
  const { info, sources } = parts;
  const sampleBytes = info.shape[0] * info.shape[1] * info.shape[2];
  const fingerprint = onceUnlessFailed(parts.computeFingerprint);
  const labelCache = new Map<Split, Promise<Int32Array>>();

  const readRangeBytes = async (split: Split, start: number, count: number): Promise<ByteBatch> => {
    const source = sources[split];
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(count) ||
      start < 0 ||
      count < 0 ||
      start + count > source.count
    ) {
      throw outOfRange(info, split, `range [${start}, ${start + count})`);
    }
    if (count === 0) return { count: 0, pixels: new Uint8Array(0), labels: new Int32Array(0) };
    const [batch] = await source.readRuns([{ start, count }]);
    return batch;
  };

  const readIndicesBytes = async (split: Split, indices: ArrayLike<number>): Promise<ByteBatch> => {
    const source = sources[split];
    const n = indices.length;
    for (let i = 0; i < n; i++) {
      const index = indices[i];
      if (!Number.isInteger(index) || index < 0 || index >= source.count) {
        throw outOfRange(info, split, `index ${index} (position ${i} of the list)`);
      }
    }
    const sorted = Int32Array.from(indices).sort();
    const runs = planRuns(sorted, source.maxGap);
    const batches = runs.length > 0 ? await source.readRuns(runs) : [];
    const pixels = new Uint8Array(n * sampleBytes);
    const labels = new Int32Array(n);
    // Runs are sorted and disjoint: binary-search the run that holds each index.
    for (let i = 0; i < n; i++) {
      const index = indices[i];
      let lo = 0;
      let hi = runs.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (runs[mid].start <= index) lo = mid;
        else hi = mid - 1;
      }
      const offset = index - runs[lo].start;
      const batch = batches[lo];
      pixels.set(batch.pixels.subarray(offset * sampleBytes, (offset + 1) * sampleBytes), i * sampleBytes);
      labels[i] = batch.labels[offset];
    }
    return { count: n, pixels, labels };
  };

  const toFloats = (batch: ByteBatch): SampleBatch => ({
    count: batch.count,
    images: bytesToFloats(batch.pixels),
    labels: batch.labels,
  });

  return {
    info,
    fingerprint,
    readRangeBytes,
    readIndicesBytes,
    readRange: async (split, start, count) => toFloats(await readRangeBytes(split, start, count)),
    readIndices: async (split, indices) => toFloats(await readIndicesBytes(split, indices)),
    readLabels: async (split) => {
      let labels = labelCache.get(split);
      if (!labels) {
        labels = sources[split].readLabels();
        labelCache.set(split, labels);
        labels.catch(() => labelCache.delete(split));
      }
      return (await labels).slice();
    },
  };
}

/** `compute` run on the first call and its promise kept, unless it fails (then the next call runs it again). */
export function onceUnlessFailed<T>(compute: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () =>
    (result ??= compute().catch((err: unknown) => {
      result = undefined;
      throw err;
    }));
}

/** An index or range outside a split: the message names the set, the split and its size. */
export function outOfRange(info: Pick<DatasetInfo, 'name' | 'samples'>, split: Split, what: string): TypedTaskError {
  return new TypedTaskError(
    FailureType.InvalidData,
    `${info.name}: ${what} is outside the ${split} split of ${info.samples[split]} samples; ` +
      'the indices were made for a different dataset or split',
  );
}
