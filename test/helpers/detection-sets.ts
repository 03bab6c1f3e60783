/**
 * Writers for tiny COCO and VOC detection folders, independent of the
 * readers: grey PNGs whose every pixel says which image it is, and
 * annotation files from plain records.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';

/** Pixel (x, y) of the image with id `id`: distinct per image and position, never 0. */
export function fixturePixel(id: number, x: number, y: number): number {
  return 1 + ((id * 37 + x * 5 + y * 11) % 254);
}

/** A width x height PNG of fixturePixel(id, ., .), grey or RGB (then every channel the same). */
export function fixturePng(id: number, width: number, height: number, rgb = false): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = fixturePixel(id, x, y);
      png.data.set([v, v, v, 255], (y * width + x) * 4);
    }
  }
  return PNG.sync.write(png, rgb ? {} : { colorType: 0 });
}

export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

export interface CocoSplitFixture {
  images: CocoImage[];
  annotations: Record<string, unknown>[];
  categories: { id: number; name: string }[];
}

/** Writes `<dir>/instances_<split>.json` and a PNG of the declared size for every image. */
export function writeCocoSplit(dir: string, split: string, fixture: CocoSplitFixture): string {
  mkdirSync(path.join(dir, split), { recursive: true });
  for (const image of fixture.images) {
    writeFileSync(path.join(dir, split, image.file_name), fixturePng(image.id, image.width, image.height));
  }
  const file = path.join(dir, `instances_${split}.json`);
  writeFileSync(file, JSON.stringify({ info: { note: 'test fixture' }, ...fixture }));
  return file;
}

export const fixtureCategories = [
  { id: 7, name: 'cat' },
  { id: 3, name: 'ant' },
];

/** Train: three 8x8 images (ids 10, 11, 12; 12 has no objects); test: one. Category ids 3 (ant) and 7 (cat). */
export function tinyCoco(): { train: CocoSplitFixture; test: CocoSplitFixture } {
  const image = (id: number): CocoImage => ({ id, file_name: `img-${id}.png`, width: 8, height: 8 });
  return {
    train: {
      images: [image(10), image(11), image(12)],
      annotations: [
        { id: 1, image_id: 10, category_id: 7, bbox: [0, 0, 4, 4], iscrowd: 0, area: 16 },
        { id: 2, image_id: 11, category_id: 3, bbox: [1.5, 2, 6.5, 6], iscrowd: 0 },
        { id: 3, image_id: 10, category_id: 3, bbox: [4, 4, 4, 4], iscrowd: 1 },
      ],
      categories: fixtureCategories.map((c) => ({ ...c })),
    },
    test: {
      images: [image(20)],
      annotations: [{ id: 1, image_id: 20, category_id: 7, bbox: [2, 2, 3, 3] }],
      categories: fixtureCategories.map((c) => ({ ...c })).reverse(),
    },
  };
}

export interface VocObject {
  name: string;
  box: [number, number, number, number];
  difficult?: boolean;
}

/** One VOC annotation file's text. */
export function vocXml(filename: string, width: number, height: number, objects: VocObject[]): string {
  const object = (o: VocObject) =>
    `  <object>\n    <name>${o.name}</name>\n    <pose>Unspecified</pose>\n    <difficult>${o.difficult ? 1 : 0}</difficult>\n` +
    `    <bndbox><xmin>${o.box[0]}</xmin><ymin>${o.box[1]}</ymin><xmax>${o.box[2]}</xmax><ymax>${o.box[3]}</ymax></bndbox>\n  </object>\n`;
  return (
    `<?xml version="1.0"?>\n<!-- test fixture -->\n<annotation verified="no">\n  <folder>VOC</folder>\n  <filename>${filename}</filename>\n` +
    `  <size><width>${width}</width><height>${height}</height><depth>3</depth></size>\n${objects.map(object).join('')}</annotation>\n`
  );
}

export interface VocImage {
  id: string;
  width: number;
  height: number;
  objects: VocObject[];
}

/** Writes Annotations/, JPEGImages/ (PNG bytes: the reader decodes by content) and ImageSets/Main/<split>.txt. */
export function writeVocSet(dir: string, splits: Record<string, VocImage[]>): void {
  for (const sub of ['Annotations', 'JPEGImages', path.join('ImageSets', 'Main')]) {
    mkdirSync(path.join(dir, sub), { recursive: true });
  }
  let n = 0;
  for (const [split, images] of Object.entries(splits)) {
    writeFileSync(path.join(dir, 'ImageSets', 'Main', `${split}.txt`), images.map((i) => `${i.id}\n`).join(''));
    for (const image of images) {
      const file = `${image.id}.jpg`;
      writeFileSync(path.join(dir, 'JPEGImages', file), fixturePng(++n, image.width, image.height, true));
      writeFileSync(
        path.join(dir, 'Annotations', `${image.id}.xml`),
        vocXml(file, image.width, image.height, image.objects),
      );
    }
  }
}
