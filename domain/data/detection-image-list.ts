/**
 * A detection set over a list of image files per split with their boxes
 * (from COCO json or VOC xml): the rules both formats share. Boxes are
 * checked against the image size the annotations declare; image files must
 * exist when the set is opened and decode to that size when read. An image
 * already of the input shape is decoded straight; another size is
 * letterboxed (scaled to fit, aspect kept, padded at bottom and right with 0)
 * and its boxes scaled by the same factor. Images are decoded per read, never
 * a whole split at once. The fingerprint hashes the annotation bytes and then
 * every image file, in index order.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Box, GroundTruthObject, ImageAnnotations } from '../detection/types';
import { splits, type Split } from './dataset';
import type { DataConfinement } from './data-roots';
import type { DetectionDataset } from './detection-dataset';
import { assembleDetectionDataset, type DetectionSplitSource } from './detection-source';
import { sha256Json } from './file-hash';
import { decodeImage, letterboxImage, letterboxScale } from './image-decode';
import { invalidData } from './invalid-data';

/** A box edge this close outside the image (in pixels) is rounding: it is clipped, not refused. */
export const BOX_TOLERANCE = 0.01;

/** What opening a COCO or VOC folder takes. */
export interface DetectionFolderOptions {
  /** The input shape every image is read at, [height, width, channels]. */
  shape: [number, number, 1 | 3];
  /** The name each split goes by in the folder's file names (default: train, test), e.g. { test: 'val2017' }. */
  splitNames?: Partial<Record<Split, string>>;
  /** Every file read must lie inside these data roots (set when the folder came from a config). */
  confine?: DataConfinement;
}

export interface DetectionImageEntry {
  file: string;
  /** What messages start with, e.g. "/data/instances_train.json: images[3] (id 7)". */
  where: string;
  /** The size the annotations declare; the decoded image must have it. */
  width: number;
  height: number;
  imageId: number;
  /** In the image's own pixels, checked against width x height. */
  objects: GroundTruthObject[];
}

export interface DetectionImageSplit {
  entries: DetectionImageEntry[];
  /** The annotation bytes (json file, or list and xml files) in the order read; the fingerprint hashes them. */
  annotationBytes: Uint8Array[];
}

export interface DetectionImageListSpec {
  /** The data set kind, also the fingerprint's format tag. */
  format: string;
  name: string;
  shape: [number, number, 1 | 3];
  classNames: string[];
  train: DetectionImageSplit;
  test: DetectionImageSplit;
  /** How the user drops a bad image, e.g. "drop its record from images and annotations". */
  removeHint: string;
  confine?: DataConfinement;
}

/**
 * `box` checked inside a width x height image: a non-positive size or an edge
 * past the image is InvalidData (`what` names the record and box, `image` the
 * image); edges within BOX_TOLERANCE outside are clipped.
 */
export function checkBox(box: Box, width: number, height: number, what: string, image: string): Box {
  const hint = 'fix the box or drop the annotation';
  if (!(box.w > 0 && box.h > 0)) {
    throw invalidData(`${what} has non-positive size (w ${box.w}, h ${box.h}); ${hint}`);
  }
  const t = BOX_TOLERANCE;
  if (box.x < -t || box.y < -t || box.x + box.w > width + t || box.y + box.h > height + t) {
    throw invalidData(`${what} extends past ${image} (${width}x${height}); ${hint}`);
  }
  const x = Math.max(0, box.x);
  const y = Math.max(0, box.y);
  return { x, y, w: Math.min(box.x + box.w, width) - x, h: Math.min(box.y + box.h, height) - y };
}

/** Throws InvalidData naming the record and path of the first entry whose image file is missing or not a file. */
export function checkImageFiles(entries: readonly DetectionImageEntry[], removeHint: string): void {
  for (const entry of entries) {
    let isFile: boolean;
    try {
      isFile = statSync(entry.file).isFile();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      throw invalidData(`${entry.where}: image file ${entry.file} not found; restore it or ${removeHint}`);
    }
    if (!isFile) throw invalidData(`${entry.where}: image file ${entry.file} is not a file; ${removeHint}`);
  }
}

/** A duplicate-id check: `seen` maps each id to the first record that used it. */
export function claimId(seen: Map<number, string>, id: number, record: string, file: string): void {
  const first = seen.get(id);
  if (first !== undefined) {
    throw invalidData(`${file}: ${record}: duplicate id ${id} (also ${first}); give every record its own id`);
  }
  seen.set(id, record);
}

export function detectionImageListDataset(spec: DetectionImageListSpec): DetectionDataset {
  const [height, width, channels] = spec.shape;
  const imageBytes = height * width * channels;

  const loadInto = async (entry: DetectionImageEntry, out: Uint8Array, offset: number): Promise<void> => {
    await spec.confine?.check(entry.file, `${entry.where}: image`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(entry.file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw invalidData(
        `${entry.where}: image file ${entry.file}: ${code === 'ENOENT' ? 'not found' : (err as Error).message}; ` +
          `restore it or ${spec.removeHint}`,
      );
    }
    let image;
    try {
      image = decodeImage(bytes);
    } catch (err) {
      throw invalidData(
        `${entry.where}: image file ${entry.file} (${bytes.length} bytes) cannot be decoded: ${(err as Error).message}; ` +
          `replace it with a valid PNG or JPEG or ${spec.removeHint}`,
      );
    }
    if (image.width !== entry.width || image.height !== entry.height) {
      throw invalidData(
        `${entry.where}: image file ${entry.file} decodes to ${image.width}x${image.height}, ` +
          `the annotations say ${entry.width}x${entry.height}; fix the width and height or the image`,
      );
    }
    letterboxImage(image, height, width, channels, out, offset);
  };

  const source = (split: DetectionImageSplit): DetectionSplitSource => {
    const annotations: ImageAnnotations[] = split.entries.map((entry) => {
      const scale = letterboxScale(entry.width, entry.height, height, width);
      const sameSize = entry.width === width && entry.height === height;
      return {
        imageId: entry.imageId,
        objects: sameSize
          ? entry.objects
          : entry.objects.map((o) => ({ ...o, x: o.x * scale, y: o.y * scale, w: o.w * scale, h: o.h * scale })),
      };
    });
    return {
      count: split.entries.length,
      readImages: async (indices) => {
        const pixels = new Uint8Array(indices.length * imageBytes);
        for (let k = 0; k < indices.length; k++) await loadInto(split.entries[indices[k]], pixels, k * imageBytes);
        return { pixels, annotations: Array.from(indices, (index) => annotations[index]) };
      },
      readAnnotations: async () => annotations,
    };
  };

  return assembleDetectionDataset({
    info: {
      kind: spec.format,
      name: spec.name,
      samples: { train: spec.train.entries.length, test: spec.test.entries.length },
      shape: spec.shape,
      numClasses: spec.classNames.length,
      classNames: spec.classNames,
    },
    sources: { train: source(spec.train), test: source(spec.test) },
    computeFingerprint: async () => {
      const description: Record<string, unknown> = { format: spec.format, shape: spec.shape };
      const lists = { train: spec.train, test: spec.test };
      for (const split of splits) {
        const hash = createHash('sha256');
        for (const bytes of lists[split].annotationBytes) hash.update(lengthPrefix(bytes.length)).update(bytes);
        for (const entry of lists[split].entries) {
          await spec.confine?.check(entry.file, `${entry.where}: image`);
          const bytes = readFileSync(entry.file);
          hash.update(lengthPrefix(bytes.length)).update(bytes);
        }
        description[split] = hash.digest('hex');
      }
      return sha256Json(description);
    },
  });
}

/** 8 bytes of length before each file's bytes, so moving bytes between files changes the hash. */
function lengthPrefix(n: number): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64BE(BigInt(n));
  return prefix;
}
