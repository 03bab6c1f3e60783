/**
 * A dataset cut to its first N training and/or test samples (config
 * `dataset.limit` / `dataset.testLimit`): a small pool from a real set
 * without copying files. Indices keep their meaning (sample i is the same
 * image), and the fingerprint covers the limits, so subsets made on a cut set
 * are never taken for subsets of the whole one.
 */
import { createHash } from 'node:crypto';
import type { Dataset, Split } from './dataset';
import { FailureType, TypedTaskError } from '../../contracts/failures';

export interface DatasetLimits {
  train?: number;
  test?: number;
}

const fieldOf: Record<Split, string> = { train: 'dataset.limit', test: 'dataset.testLimit' };

export function limitDataset(dataset: Dataset, limits: DatasetLimits): Dataset {
  if (limits.train === undefined && limits.test === undefined) return dataset;
  const samples = { ...dataset.info.samples };
  for (const split of ['train', 'test'] as const) {
    const limit = limits[split];
    if (limit === undefined) continue;
    if (!Number.isInteger(limit) || limit < 1)
      throw invalid(`${fieldOf[split]}: must be a positive integer, got ${limit}`);
    if (limit > samples[split]) {
      throw invalid(
        `${fieldOf[split]}: ${limit} is more than the ${samples[split]} ${split} samples of ${dataset.info.name}; lower it or remove the field`,
      );
    }
    samples[split] = limit;
  }
  const info = {
    ...dataset.info,
    samples,
    name: `${dataset.info.name} (first ${samples.train} train, ${samples.test} test)`,
  };
  const checkRange = (split: Split, start: number, count: number): void => {
    if (
      Number.isInteger(start) &&
      Number.isInteger(count) &&
      start >= 0 &&
      count >= 0 &&
      start + count <= samples[split]
    )
      return;
    throw outside(split, `range [${start}, ${start + count})`);
  };
  const checkIndices = (split: Split, indices: ArrayLike<number>): void => {
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i];
      if (!Number.isInteger(index) || index < 0 || index >= samples[split])
        throw outside(split, `index ${index} (position ${i} of the list)`);
    }
  };
  const outside = (split: Split, what: string): TypedTaskError =>
    new TypedTaskError(
      FailureType.InvalidData,
      `${info.name}: ${what} is outside the ${split} split of ${samples[split]} samples (${fieldOf[split]}); the indices were made for a different dataset or limit`,
    );
  let fingerprint: Promise<string> | undefined;
  return {
    info,
    fingerprint: () =>
      (fingerprint ??= dataset
        .fingerprint()
        .then((whole) =>
          createHash('sha256').update(`${whole}\nlimit train ${samples.train} test ${samples.test}\n`).digest('hex'),
        )
        .catch((err) => {
          fingerprint = undefined;
          throw err;
        })),
    readRange: async (split, start, count) => (checkRange(split, start, count), dataset.readRange(split, start, count)),
    readRangeBytes: async (split, start, count) => (
      checkRange(split, start, count),
      dataset.readRangeBytes(split, start, count)
    ),
    readIndices: async (split, indices) => (checkIndices(split, indices), dataset.readIndices(split, indices)),
    readIndicesBytes: async (split, indices) => (
      checkIndices(split, indices),
      dataset.readIndicesBytes(split, indices)
    ),
    readLabels: async (split) => (await dataset.readLabels(split)).subarray(0, samples[split]),
  };
}

function invalid(message: string): TypedTaskError {
  return new TypedTaskError(FailureType.InvalidConfig, message);
}
