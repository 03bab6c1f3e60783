/**
 * Writes generated scenes as a COCO detection set that coco-detection.ts
 * opens: `<dir>/<split>/<000000>.png` (grey) and `<dir>/instances_<split>.json`,
 * one scene at a time. The json is streamed: images go straight to it,
 * annotations to a side file appended at the end, so memory stays flat at
 * any size; each json appears under its name only once complete.
 */
import { randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  promises as fs,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { PNG } from 'pngjs';
import { splits, type Split } from './dataset';
import {
  SCENE_GENERATOR_VERSION,
  sceneCategoryId,
  sceneImageId,
  type SceneGenerator,
  type SceneSpec,
} from './detection-scenes';

export interface WrittenScenes {
  dir: string;
  images: Record<Split, number>;
  objects: Record<Split, number>;
  bytes: number;
}

export interface WriteScenesOptions {
  classNames: string[];
  /** Where the source images came from, recorded in the json's info. */
  origin: string;
  /** Called every `progressEvery` scenes (default 5,000). */
  onProgress?: (split: Split, done: number, total: number) => void;
  progressEvery?: number;
}

/** Scene i's file name: zero-padded to six digits (more for larger splits). */
export function sceneFileName(index: number, count: number): string {
  return `${String(index).padStart(Math.max(6, String(count - 1).length), '0')}.png`;
}

/** A grey PNG of `pixels` (width x height bytes). */
export function encodeGreyPng(pixels: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

/** An RGB PNG of `pixels` (width x height x 3 bytes), e.g. an image with boxes drawn (domain/detection/draw-boxes.ts). */
export function encodeRgbPng(pixels: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

async function put(stream: WriteStream, text: string | Buffer): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function close(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** The json's info record: what made the set, so a file says how to make it again. */
export function sceneInfo(spec: SceneSpec, split: Split, origin: string): Record<string, unknown> {
  return {
    description: 'winnow generated detection scenes (docs/detection-data.md); not a public benchmark',
    generator: SCENE_GENERATOR_VERSION,
    source: origin,
    split,
    spec,
  };
}

export async function writeDetectionScenes(
  dir: string,
  generator: SceneGenerator,
  options: WriteScenesOptions,
): Promise<WrittenScenes> {
  const { spec } = generator;
  const every = options.progressEvery ?? 5000;
  const written: WrittenScenes = { dir, images: { train: 0, test: 0 }, objects: { train: 0, test: 0 }, bytes: 0 };
  const categories = options.classNames.map((name, k) => ({ id: sceneCategoryId(k), name }));
  for (const split of splits) {
    const count = spec[split];
    mkdirSync(path.join(dir, split), { recursive: true });
    const jsonPath = path.join(dir, `instances_${split}.json`);
    const suffix = `.tmp-${randomBytes(6).toString('hex')}`;
    const sidePath = `${jsonPath}.annotations${suffix}`;
    const json = createWriteStream(jsonPath + suffix);
    const side = createWriteStream(sidePath);
    try {
      await put(
        json,
        `{"info":${JSON.stringify(sceneInfo(spec, split, options.origin))},\n` +
          `"categories":${JSON.stringify(categories)},\n"images":[\n`,
      );
      let annotationId = 0;
      for (let i = 0; i < count; i++) {
        const scene = generator.render(split, i);
        const fileName = sceneFileName(i, count);
        const png = encodeGreyPng(scene.pixels, spec.size, spec.size);
        writeFileSync(path.join(dir, split, fileName), png);
        written.bytes += png.length;
        const imageId = sceneImageId(i);
        await put(
          json,
          `${i > 0 ? ',\n' : ''}${JSON.stringify({ id: imageId, file_name: fileName, width: spec.size, height: spec.size })}`,
        );
        for (const o of scene.objects) {
          const record = {
            id: ++annotationId,
            image_id: imageId,
            category_id: sceneCategoryId(o.category),
            bbox: [o.x, o.y, o.w, o.h],
            area: o.w * o.h,
            iscrowd: 0,
          };
          await put(side, `${annotationId > 1 ? ',\n' : ''}${JSON.stringify(record)}`);
        }
        written.objects[split] += scene.objects.length;
        if (options.onProgress && ((i + 1) % every === 0 || i + 1 === count)) options.onProgress(split, i + 1, count);
      }
      written.images[split] = count;
      await close(side);
      await put(json, '\n],\n"annotations":[\n');
      for await (const chunk of createReadStream(sidePath)) await put(json, chunk as Buffer);
      await put(json, '\n]}\n');
      await close(json);
      await fs.rename(jsonPath + suffix, jsonPath);
      written.bytes += (await fs.stat(jsonPath)).size;
    } finally {
      json.destroy();
      side.destroy();
      await fs.rm(sidePath, { force: true });
      await fs.rm(jsonPath + suffix, { force: true });
    }
  }
  return written;
}
