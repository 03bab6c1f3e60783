/**
 * The detection data contract, beside the classification one (dataset.ts).
 * Images are read as floats in [0, 1], count x H x W x C at the set's fixed
 * input shape; each image's objects are boxes in that shape's pixels
 * (domain/detection/types.ts). No tensors here.
 */
import type { Split } from './dataset';
import type { GroundTruthObject, ImageAnnotations } from '../detection/types';

export interface DetectionDatasetInfo {
  kind: string;
  /** Human-readable: kind plus where it came from. */
  name: string;
  samples: Record<Split, number>;
  /** The model input shape every image is read at, [height, width, channels]. */
  shape: [number, number, number];
  /** Object categories (background is not one). */
  numClasses: number;
  classNames: string[];
}

export interface DetectionBatch {
  count: number;
  images: Float32Array;
  /** Per image, its objects in input pixels. */
  objects: GroundTruthObject[][];
  /** Per image, the data set's own image id. */
  imageIds: Int32Array;
}

export interface DetectionDataset {
  readonly info: DetectionDatasetInfo;
  /** Stable content hash (hex sha256) of images and annotations; cached after the first call. */
  fingerprint(): Promise<string>;
  readRange(split: Split, start: number, count: number): Promise<DetectionBatch>;
  /** Images at `indices`, in the order given (duplicates allowed). */
  readIndices(split: Split, indices: ArrayLike<number>): Promise<DetectionBatch>;
  /** Every image's annotations for a split, in index order (for evaluation, class mix, lineage). */
  readAnnotations(split: Split): Promise<ImageAnnotations[]>;
}
