/**
 * Generated detection scenes: square grey canvases with 1 to maxObjects
 * small-image objects (Fashion-MNIST in practice) each scaled to one of a
 * few sizes and placed at random, later objects drawn over earlier ones,
 * over background noise and clutter (small crops of other source images, too
 * small to be objects). Classes follow a geometric prior (class k weighs
 * classSkew^k), so the set is imbalanced on purpose. An object's box is the
 * tight box of its visible non-zero pixels; an object more than maxHidden
 * hidden by later ones keeps its pixels but has no box. Every scene follows
 * from (seed, split, index) alone, so scenes are made in any order, one at a
 * time, and the same seed gives the same pixels. Pure: the source images
 * come in as arrays; docs/detection-data.md gives the recipe.
 */
import { z } from 'zod';
import { mixSeeds, mulberry32 } from '../../contracts/seeded-hash';
import type { GroundTruthObject, ImageAnnotations } from '../detection/types';
import type { Split } from './dataset';
import type { DetectionDataset } from './detection-dataset';
import { assembleDetectionDataset, type DetectionSplitSource } from './detection-source';
import { sha256Json } from './file-hash';
import { fitImage } from './image-decode';
import { objectsFitCanvas, sceneSpecFields } from '../../contracts/detection-data-spec';

/** Bumped whenever a change to the recipe changes any scene's pixels or boxes. */
export const SCENE_GENERATOR_VERSION = 1;

export { objectsFitCanvas, sceneSpecFields };
export const sceneSpecSchema = z.strictObject(sceneSpecFields).refine(...objectsFitCanvas);
export type SceneSpecInput = z.input<typeof sceneSpecSchema>;
export type SceneSpec = z.output<typeof sceneSpecSchema>;

/** The images objects and clutter are cut from, one split's worth (train scenes from train images only). */
export interface SceneSource {
  rows: number;
  cols: number;
  /** count x rows x cols grey bytes. */
  pixels: Uint8Array;
  labels: ArrayLike<number>;
  numClasses: number;
}

/** One object as placed, boxed or not (for tests and reports). */
export interface PlacedObject {
  category: number;
  sourceIndex: number;
  side: number;
  x: number;
  y: number;
  /** Non-zero pixels of the scaled object, and how many of them stay visible. */
  pixels: number;
  visible: number;
  boxed: boolean;
}

export interface Scene {
  /** size x size grey bytes. */
  pixels: Uint8Array;
  /** The boxed objects, in drawing order. */
  objects: GroundTruthObject[];
  placed: PlacedObject[];
}

export interface SceneGenerator {
  readonly spec: SceneSpec;
  /** The class prior, normalised. */
  readonly prior: number[];
  render(split: Split, index: number): Scene;
}

const SCENE_SALT = 0x5ce7e001;
const SPLIT_CODE: Record<Split, number> = { train: 1, test: 2 };
/** Clutter fragments are crops of side 4..9 from the middle of a source image, drawn at scale 1 or 2. */
const CLUTTER_MIN = 4;
const CLUTTER_SPAN = 6;
const CLUTTER_MARGIN = 4;

export function createSceneGenerator(input: SceneSpecInput, sources: Record<Split, SceneSource>): SceneGenerator {
  const spec = sceneSpecSchema.parse(input);
  const numClasses = sources.train.numClasses;
  const weights = Array.from({ length: numClasses }, (_, k) => spec.classSkew ** k);
  const total = weights.reduce((a, b) => a + b, 0);
  const prior = weights.map((w) => w / total);
  const cumulative = prior.map((_, k) => prior.slice(0, k + 1).reduce((a, b) => a + b, 0));
  const byClass = {
    train: indicesByClass(sources.train),
    test: indicesByClass(sources.test),
  };
  for (const split of ['train', 'test'] as const) {
    const empty = byClass[split].findIndex((list) => list.length === 0);
    if (empty >= 0) throw new Error(`scene source (${split}) has no image of class ${empty}`);
  }
  const side = spec.size;

  const render = (split: Split, index: number): Scene => {
    const source = sources[split];
    const random = mulberry32(mixSeeds(SCENE_SALT, spec.seed, SPLIT_CODE[split], index));
    const pick = (n: number) => Math.floor(random() * n);
    const canvas = new Uint8Array(side * side);
    for (let p = 0; p < canvas.length; p++) canvas[p] = pick(spec.noise + 1);
    const imageBytes = source.rows * source.cols;
    const sourceImage = (i: number) => source.pixels.subarray(i * imageBytes, (i + 1) * imageBytes);

    const clutter = pick(spec.maxClutter + 1);
    for (let c = 0; c < clutter; c++) {
      const from = sourceImage(pick(source.labels.length));
      const crop = CLUTTER_MIN + pick(CLUTTER_SPAN);
      const oy = CLUTTER_MARGIN + pick(Math.max(1, source.rows - 2 * CLUTTER_MARGIN - crop + 1));
      const ox = CLUTTER_MARGIN + pick(Math.max(1, source.cols - 2 * CLUTTER_MARGIN - crop + 1));
      const scale = 1 + pick(2);
      const drawn = crop * scale;
      const ty = pick(side - drawn + 1);
      const tx = pick(side - drawn + 1);
      for (let y = 0; y < drawn; y++) {
        for (let x = 0; x < drawn; x++) {
          const v = from[(oy + Math.floor(y / scale)) * source.cols + ox + Math.floor(x / scale)];
          if (v > 0) canvas[(ty + y) * side + tx + x] = v;
        }
      }
    }

    const owner = new Int8Array(side * side).fill(-1);
    const placed: PlacedObject[] = [];
    const count = 1 + pick(spec.maxObjects);
    for (let k = 0; k < count; k++) {
      const u = random();
      let category = 0;
      while (category < numClasses - 1 && u >= cumulative[category]) category++;
      const candidates = byClass[split][category];
      const sourceIndex = candidates[pick(candidates.length)];
      const objectSide = spec.objectSizes[pick(spec.objectSizes.length)];
      const x = pick(side - objectSide + 1);
      const y = pick(side - objectSide + 1);
      const scaled = scaleGrey(sourceImage(sourceIndex), source.rows, source.cols, objectSide);
      let pixels = 0;
      for (let sy = 0; sy < objectSide; sy++) {
        for (let sx = 0; sx < objectSide; sx++) {
          const v = scaled[sy * objectSide + sx];
          if (v === 0) continue;
          const at = (y + sy) * side + x + sx;
          canvas[at] = v;
          owner[at] = k;
          pixels++;
        }
      }
      placed.push({ category, sourceIndex, side: objectSide, x, y, pixels, visible: 0, boxed: false });
    }

    const boxes = placed.map(() => ({ minX: side, minY: side, maxX: -1, maxY: -1 }));
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const k = owner[y * side + x];
        if (k < 0) continue;
        const box = boxes[k];
        placed[k].visible++;
        if (x < box.minX) box.minX = x;
        if (x > box.maxX) box.maxX = x;
        if (y < box.minY) box.minY = y;
        if (y > box.maxY) box.maxY = y;
      }
    }
    const objects: GroundTruthObject[] = [];
    placed.forEach((p, k) => {
      p.boxed = p.visible > 0 && p.visible >= (1 - spec.maxHidden) * p.pixels;
      if (!p.boxed) return;
      const b = boxes[k];
      objects.push({ x: b.minX, y: b.minY, w: b.maxX - b.minX + 1, h: b.maxY - b.minY + 1, category: p.category });
    });
    return { pixels: canvas, objects, placed };
  };

  return { spec, prior, render };
}

function indicesByClass(source: SceneSource): Int32Array[] {
  const lists: number[][] = Array.from({ length: source.numClasses }, () => []);
  for (let i = 0; i < source.labels.length; i++) lists[source.labels[i]].push(i);
  return lists.map((list) => Int32Array.from(list));
}

/** A rows x cols grey image scaled to side x side (bilinear, through image-decode's fitter). */
function scaleGrey(image: Uint8Array, rows: number, cols: number, side: number): Uint8Array {
  const rgba = new Uint8Array(rows * cols * 4);
  for (let p = 0; p < rows * cols; p++) {
    rgba[p * 4] = rgba[p * 4 + 1] = rgba[p * 4 + 2] = image[p];
    rgba[p * 4 + 3] = 255;
  }
  const out = new Uint8Array(side * side);
  fitImage({ width: cols, height: rows, rgba }, side, side, 1, out);
  return out;
}

/** Scene i's COCO image id (1-based, as COCO files usually number them). */
export const sceneImageId = (index: number): number => index + 1;

/** The COCO category of class k (COCO ids start at 1). */
export const sceneCategoryId = (category: number): number => category + 1;

export interface SceneDatasetOptions {
  classNames: string[];
  /** Fingerprint of the source images (the Fashion-MNIST set's), so the lineage follows them. */
  sourceFingerprint: string;
  /** Where the sources came from, for the name. */
  origin: string;
}

/**
 * The scenes as a DetectionDataset, without files: images (and their boxes)
 * are rendered per read; readAnnotations renders a split once and keeps it.
 */
export function createSceneDataset(generator: SceneGenerator, options: SceneDatasetOptions): DetectionDataset {
  const { spec } = generator;
  const imageBytes = spec.size * spec.size;
  const source = (split: Split): DetectionSplitSource => {
    let annotations: ImageAnnotations[] | undefined;
    return {
      count: spec[split],
      readImages: async (indices) => {
        const pixels = new Uint8Array(indices.length * imageBytes);
        const annotations = Array.from(indices, (index, k) => {
          const scene = generator.render(split, index);
          pixels.set(scene.pixels, k * imageBytes);
          return { imageId: sceneImageId(index), objects: scene.objects };
        });
        return { pixels, annotations };
      },
      readAnnotations: async () =>
        (annotations ??= Array.from({ length: spec[split] }, (_, i) => ({
          imageId: sceneImageId(i),
          objects: generator.render(split, i).objects,
        }))),
    };
  };
  return assembleDetectionDataset({
    info: {
      kind: 'scenes',
      name: `scenes (seed ${spec.seed}, ${spec.size}x${spec.size}, from ${options.origin})`,
      samples: { train: spec.train, test: spec.test },
      shape: [spec.size, spec.size, 1],
      numClasses: options.classNames.length,
      classNames: options.classNames,
    },
    sources: { train: source('train'), test: source('test') },
    computeFingerprint: async () =>
      sha256Json({
        format: 'scenes',
        generator: SCENE_GENERATOR_VERSION,
        spec,
        source: options.sourceFingerprint,
      }),
  });
}
