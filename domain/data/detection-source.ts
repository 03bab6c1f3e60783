/**
 * What every detection format shares: bounds checks, duplicate and order
 * handling of index reads, float conversion and the cached fingerprint. A
 * format supplies, per split, reads of sorted distinct indices (its decoded
 * pixels at the set's shape) and every image's annotations.
 */
import type { GroundTruthObject, ImageAnnotations } from '../detection/types';
import { bytesToFloats, onceUnlessFailed, outOfRange, splits, type Split } from './dataset';
import type { DetectionBatch, DetectionDataset, DetectionDatasetInfo } from './detection-dataset';

export interface DetectionSplitSource {
  count: number;
  /** The images at `indices` (sorted, distinct): pixels (H x W x C bytes each, back to back) and annotations. */
  readImages(indices: Int32Array): Promise<{ pixels: Uint8Array; annotations: readonly ImageAnnotations[] }>;
  /** Every image's annotations in index order (boxes already in input pixels). Callers do not mutate them. */
  readAnnotations(): Promise<readonly ImageAnnotations[]>;
}

export interface DetectionDatasetParts {
  info: DetectionDatasetInfo;
  computeFingerprint: () => Promise<string>;
  sources: Record<Split, DetectionSplitSource>;
}

const copyObject = (o: GroundTruthObject): GroundTruthObject => ({ ...o });
const copyAnnotations = (a: ImageAnnotations): ImageAnnotations => ({
  imageId: a.imageId,
  objects: a.objects.map(copyObject),
});

export function assembleDetectionDataset(parts: DetectionDatasetParts): DetectionDataset {
  const { info, sources } = parts;
  const imageBytes = info.shape[0] * info.shape[1] * info.shape[2];
  for (const split of splits) {
    if (sources[split].count !== info.samples[split])
      throw new Error(
        `${info.name}: the ${split} source holds ${sources[split].count} images, info says ${info.samples[split]}`,
      );
  }

  /** Reads `indices` (checked, any order, duplicates allowed) once each, then lays them out in the order asked. */
  const read = async (split: Split, indices: ArrayLike<number>): Promise<DetectionBatch> => {
    const n = indices.length;
    const distinct = Int32Array.from(new Set(Array.from(indices))).sort();
    const { pixels, annotations } =
      distinct.length > 0 ? await sources[split].readImages(distinct) : { pixels: new Uint8Array(0), annotations: [] };
    const slot = new Map<number, number>();
    distinct.forEach((index, k) => slot.set(index, k));
    const bytes = new Uint8Array(n * imageBytes);
    const objects: GroundTruthObject[][] = [];
    const imageIds = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const k = slot.get(indices[i])!;
      bytes.set(pixels.subarray(k * imageBytes, (k + 1) * imageBytes), i * imageBytes);
      const annotation = annotations[k];
      objects.push(annotation.objects.map(copyObject));
      imageIds[i] = annotation.imageId;
    }
    return { count: n, images: bytesToFloats(bytes), objects, imageIds };
  };

  return {
    info,
    fingerprint: onceUnlessFailed(parts.computeFingerprint),
    readRange: async (split, start, count) => {
      if (
        !Number.isInteger(start) ||
        !Number.isInteger(count) ||
        start < 0 ||
        count < 0 ||
        start + count > info.samples[split]
      ) {
        throw outOfRange(info, split, `range [${start}, ${start + count})`);
      }
      return read(
        split,
        Int32Array.from({ length: count }, (_, k) => start + k),
      );
    },
    readIndices: async (split, indices) => {
      for (let i = 0; i < indices.length; i++) {
        const index = indices[i];
        if (!Number.isInteger(index) || index < 0 || index >= info.samples[split]) {
          throw outOfRange(info, split, `index ${index} (position ${i} of the list)`);
        }
      }
      return read(split, indices);
    },
    readAnnotations: async (split) => (await sources[split].readAnnotations()).map(copyAnnotations),
  };
}
