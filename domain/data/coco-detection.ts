/**
 * COCO-format detection sets: per split an `instances_<split>.json` (in the
 * folder or its `annotations/` sub-folder) with `images` (id, file_name,
 * width, height), `annotations` (id, image_id, category_id, bbox [x, y, w, h]
 * in pixels, iscrowd) and `categories` (id, name), over the images in
 * `<split>/`. Categories become indices 0..n-1 in id order and must be the
 * same in both splits; images keep the json's order. Every record is checked
 * when the set is opened (see detection-image-list.ts for the box and image
 * rules); other fields (segmentation, area, licenses) are ignored.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { GroundTruthObject } from '../detection/types';
import type { Split } from './dataset';
import type { DetectionDataset } from './detection-dataset';
import {
  checkBox,
  checkImageFiles,
  claimId,
  detectionImageListDataset,
  type DetectionFolderOptions,
  type DetectionImageEntry,
  type DetectionImageSplit,
} from './detection-image-list';
import { fileError, invalidData } from './invalid-data';

export type CocoDetectionOptions = DetectionFolderOptions;

const finite = z.number().finite();
const cocoImageSchema = z.object({
  id: z.number().int(),
  file_name: z.string().min(1),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});
const cocoAnnotationSchema = z.object({
  id: z.number().int(),
  image_id: z.number().int(),
  category_id: z.number().int(),
  bbox: z.tuple([finite, finite, finite, finite]),
  iscrowd: z.union([z.literal(0), z.literal(1)]).optional(),
});
const cocoCategorySchema = z.object({ id: z.number().int(), name: z.string().min(1) });
export const cocoInstancesSchema = z.object({
  images: z.array(cocoImageSchema),
  annotations: z.array(cocoAnnotationSchema),
  categories: z.array(cocoCategorySchema).min(1),
});
export type CocoInstances = z.infer<typeof cocoInstancesSchema>;

const REMOVE_HINT = 'drop the image from images (and its annotations)';

/** "annotations[17] (id 42)": a record by position, and by id where it has one. */
function recordName(list: string, index: number, id: unknown): string {
  return `${list}[${index}]${typeof id === 'number' ? ` (id ${id})` : ''}`;
}

/** The first zod issue as "file: annotations[17] (id 42): bbox.2: message". */
function describeIssue(file: string, raw: unknown, issue: z.core.$ZodIssue): string {
  const [list, index, ...rest] = issue.path;
  if (typeof list !== 'string' || typeof index !== 'number') {
    return `${file}: ${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
  }
  const record = (raw as Record<string, unknown[]>)[list][index] as { id?: unknown } | undefined;
  const field = rest.length > 0 ? `${rest.join('.')}: ` : '';
  return `${file}: ${recordName(list, index, record?.id)}: ${field}${issue.message}`;
}

async function findInstancesFile(dir: string, name: string): Promise<string> {
  const candidates = [
    path.join(dir, `instances_${name}.json`),
    path.join(dir, 'annotations', `instances_${name}.json`),
  ];
  for (const candidate of candidates) {
    try {
      if ((await fs.stat(candidate)).isFile()) return candidate;
    } catch {
      // try the next place
    }
  }
  throw invalidData(
    `${candidates[0]}: file not found (also tried ${candidates[1]}); a COCO set has instances_<split>.json for train and test`,
  );
}

/** Reads and checks one split's json; returns its checked records and bytes. */
export async function readCocoInstances(file: string): Promise<{ instances: CocoInstances; bytes: Buffer }> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw fileError(file, err, 'restore the annotation file');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalidData(`${file}: not valid JSON (${(err as Error).message}); fix or regenerate the file`);
  }
  const parsed = cocoInstancesSchema.safeParse(raw);
  if (!parsed.success) throw invalidData(`${describeIssue(file, raw, parsed.error.issues[0])}; fix the record`);
  return { instances: parsed.data, bytes };
}

interface CocoSplit {
  file: string;
  instances: CocoInstances;
  bytes: Buffer;
  imageDir: string;
}

/** Categories by id, checked for duplicates, sorted by id (their order is the index order). */
function sortedCategories(split: CocoSplit): CocoInstances['categories'] {
  const seen = new Map<number, string>();
  split.instances.categories.forEach((c, i) => claimId(seen, c.id, recordName('categories', i, c.id), split.file));
  return [...split.instances.categories].sort((a, b) => a.id - b.id);
}

function entriesOf(split: CocoSplit, categoryIndex: Map<number, number>): DetectionImageEntry[] {
  const { file, instances, imageDir } = split;
  const seenImages = new Map<number, string>();
  const entries: DetectionImageEntry[] = [];
  const byImage = new Map<number, DetectionImageEntry>();
  instances.images.forEach((image, i) => {
    const where = recordName('images', i, image.id);
    claimId(seenImages, image.id, where, file);
    const resolved = path.resolve(imageDir, image.file_name);
    const rel = path.relative(imageDir, resolved);
    if (path.isAbsolute(image.file_name) || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw invalidData(
        `${file}: ${where}: file_name ${JSON.stringify(image.file_name)} is outside the image folder ${imageDir}; ` +
          'give a path relative to it',
      );
    }
    const entry: DetectionImageEntry = {
      file: resolved,
      where: `${file}: ${where}`,
      width: image.width,
      height: image.height,
      imageId: image.id,
      objects: [],
    };
    entries.push(entry);
    byImage.set(image.id, entry);
  });
  const seenAnnotations = new Map<number, string>();
  instances.annotations.forEach((a, i) => {
    const where = recordName('annotations', i, a.id);
    claimId(seenAnnotations, a.id, where, file);
    const entry = byImage.get(a.image_id);
    if (!entry) {
      throw invalidData(
        `${file}: ${where}: image_id ${a.image_id} is not in images; add the image or drop the annotation`,
      );
    }
    const category = categoryIndex.get(a.category_id);
    if (category === undefined) {
      throw invalidData(
        `${file}: ${where}: category_id ${a.category_id} is not in categories (ids ${[...categoryIndex.keys()].join(', ')}); ` +
          'fix the id or add the category',
      );
    }
    const [x, y, w, h] = a.bbox;
    const box = checkBox(
      { x, y, w, h },
      entry.width,
      entry.height,
      `${file}: ${where}: bbox [${a.bbox.join(', ')}]`,
      `image ${a.image_id}`,
    );
    const object: GroundTruthObject = { ...box, category };
    if (a.iscrowd === 1) object.crowd = true;
    entry.objects.push(object);
  });
  return entries;
}

export async function openCocoDetectionDataset(dir: string, options: CocoDetectionOptions): Promise<DetectionDataset> {
  const names: Record<Split, string> = {
    train: options.splitNames?.train ?? 'train',
    test: options.splitNames?.test ?? 'test',
  };
  const readSplit = async (split: Split): Promise<CocoSplit> => {
    const file = await findInstancesFile(dir, names[split]);
    await options.confine?.check(file, 'annotation file');
    return { file, ...(await readCocoInstances(file)), imageDir: path.join(dir, names[split]) };
  };
  const train = await readSplit('train');
  const test = await readSplit('test');
  const categories = sortedCategories(train);
  const testCategories = sortedCategories(test);
  const describe = (list: CocoInstances['categories']) => list.map((c) => `${c.id} ${c.name}`).join(', ');
  if (describe(categories) !== describe(testCategories)) {
    throw invalidData(
      `${test.file}: categories (${describe(testCategories)}) differ from those of ${train.file} (${describe(categories)}); ` +
        'both splits must list the same categories',
    );
  }
  const categoryIndex = new Map(categories.map((c, k) => [c.id, k]));
  const toSplit = (split: CocoSplit): DetectionImageSplit => {
    const entries = entriesOf(split, categoryIndex);
    checkImageFiles(entries, REMOVE_HINT);
    return { entries, annotationBytes: [split.bytes] };
  };
  const trainSplit = toSplit(train);
  const testSplit = toSplit(test);
  return detectionImageListDataset({
    format: 'coco',
    name: `coco (${dir})`,
    shape: options.shape,
    classNames: categories.map((c) => c.name),
    train: trainSplit,
    test: testSplit,
    removeHint: REMOVE_HINT,
    confine: options.confine,
  });
}
