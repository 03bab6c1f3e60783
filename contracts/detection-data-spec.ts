/**
 * The detection data specs a search config may name (COCO or VOC folders read
 * at a fixed input shape, or generated scenes), and the generator seed shared
 * with the synthetic classification set. Pure zod: the workflow sandbox and
 * the data readers (domain/data/open-detection-dataset.ts) share it.
 */
import { z } from 'zod';

/** A generator seed: a 32-bit unsigned integer, 0 unless given. */
export const generatorSeedSchema = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1)
  .default(0);

/** Generated scenes (domain/data/detection-scenes.ts; recipe in docs/detection-data.md). */
export const sceneSpecFields = {
  seed: generatorSeedSchema,
  /** Scenes per split. */
  train: z.number().int().min(1).max(10_000_000).default(1000),
  test: z.number().int().min(1).max(10_000_000).default(200),
  /** Canvas side in pixels. */
  size: z.number().int().min(32).max(1024).default(96),
  maxObjects: z.number().int().min(1).max(32).default(8),
  /** Object sides in pixels (a source image is scaled to side x side), drawn uniformly. */
  objectSizes: z.array(z.number().int().min(4)).min(1).default([14, 20, 28, 36, 48]),
  /** Class k has prior weight classSkew^k: 1 is uniform, 0.75 makes class 0 about 13x as common as class 9. */
  classSkew: z.number().gt(0).max(1).default(0.75),
  /** At most this many clutter fragments per scene (uniform from 0). */
  maxClutter: z.number().int().min(0).max(64).default(4),
  /** Background pixels are uniform in 0..noise. */
  noise: z.number().int().min(0).max(255).default(24),
  /** An object hidden by more than this fraction of its pixels gets no box. */
  maxHidden: z.number().min(0).max(1).default(0.7),
};

/** The check sceneSpecFields cannot make field by field: every object fits on the canvas. */
export const objectsFitCanvas: [
  (s: { objectSizes: number[]; size: number }) => boolean,
  { message: string; path: string[] },
] = [
  (s) => Math.max(...s.objectSizes) <= s.size,
  { message: 'every object size must be at most the canvas size', path: ['objectSizes'] },
];

const side = z.number().int().min(1).max(8192);
const shapeSchema = z.tuple([side, side, z.union([z.literal(1), z.literal(3)])]);
const splitName = z.string().regex(/^[A-Za-z0-9][\w.-]*$/, 'a file-name stem, e.g. val2017');
const splitNamesSchema = z.strictObject({ train: splitName.optional(), test: splitName.optional() });
const folderFields = {
  /** A local folder or file:// URI. */
  dir: z.string().min(1),
  /** The input shape every image is read at, [height, width, channels]. */
  shape: shapeSchema,
  splitNames: splitNamesSchema.optional(),
};

export const detectionDatasetFormats = ['coco', 'voc', 'scenes'] as const;

export const detectionDatasetSpecSchema = z.discriminatedUnion('format', [
  z.strictObject({ format: z.literal('coco'), ...folderFields }),
  z.strictObject({
    format: z.literal('voc'),
    ...folderFields,
    classNames: z
      .array(z.string().min(1))
      .min(1)
      .refine((names) => new Set(names).size === names.length, 'class names must be distinct')
      .optional(),
  }),
  z.strictObject({ format: z.literal('scenes'), ...sceneSpecFields }).refine(...objectsFitCanvas),
]);
export type DetectionDatasetSpecInput = z.input<typeof detectionDatasetSpecSchema>;
export type DetectionDatasetSpec = z.output<typeof detectionDatasetSpecSchema>;

/** A detection spec names its `format`; a classification spec its `kind`. */
export function isDetectionSpec(spec: object): spec is DetectionDatasetSpec {
  return 'format' in spec;
}

/** The input shape a detection spec fixes: the folder's `shape`, or the scenes' square grey canvas. */
export function detectionInputShape(spec: DetectionDatasetSpec): [number, number, number] {
  return spec.format === 'scenes' ? [spec.size, spec.size, 1] : spec.shape;
}
