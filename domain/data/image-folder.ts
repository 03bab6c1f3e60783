/**
 * An image folder with one sub-folder per class (the layout of torchvision's
 * ImageFolder and Keras' image_dataset_from_directory): either `train/<class>/`
 * and optionally `test/<class>/`, or `<class>/` alone, split by a fraction
 * that is decided per file from its path (adding images never moves others
 * between splits). Classes are the sorted folder names; PNG and JPEG files are
 * found at any depth, in sorted order. Images are decoded per read.
 */
import { promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import { hashIndex, mix32 } from '../../contracts/seeded-hash';
import type { Dataset } from './dataset';
import type { DataConfinement } from './data-roots';
import { decodeImage } from './image-decode';
import { imageListDataset, type ImageEntry, type ImageList } from './image-list';
import { fileError, invalidData } from './invalid-data';

export interface ImageFolderOptions {
  height?: number;
  width?: number;
  channels?: 1 | 3;
  /** Without train/ and test/ folders: the share of each class's images that goes to the test split (default 0.1). */
  testFraction?: number;
  hashImages?: boolean;
  confine?: DataConfinement;
}

export const DEFAULT_TEST_FRACTION = 0.1;
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
const SPLIT_SALT = 0x5eed0f01;

async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return (await fs.readdir(dir, { withFileTypes: true }))
      .filter((e) => !e.name.startsWith('.'))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    throw fileError(dir, err, 'dataset.uri must name a folder with one sub-folder per class (or train/ and test/)');
  }
}

/** Every PNG/JPEG below `dir`, in sorted order (depth first). */
async function imagesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await entriesOf(dir)) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await imagesBelow(full)));
    else if (IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) out.push(full);
  }
  return out;
}

interface ClassFolders {
  root: string;
  classes: string[];
  files: string[][];
}

async function readClassFolders(root: string): Promise<ClassFolders> {
  const classes = (await entriesOf(root)).filter((e) => e.isDirectory()).map((e) => e.name);
  if (classes.length === 0) {
    throw invalidData(`${root}: no class folders; put each class's images in a sub-folder named after the class`);
  }
  const files = await Promise.all(classes.map((c) => imagesBelow(path.join(root, c))));
  const empty = classes.filter((_, i) => files[i].length === 0);
  if (empty.length > 0) {
    throw invalidData(
      `${root}: class folder${empty.length > 1 ? 's' : ''} ${empty.join(', ')} hold${empty.length > 1 ? '' : 's'} no .png, .jpg or .jpeg images; add images or remove the folder`,
    );
  }
  return { root, classes, files };
}

/** Which split a file goes to when one folder is split by a fraction: a hash of its path, so stable as files come and go. */
export function isTestFile(relativePath: string, testFraction: number): boolean {
  let key = SPLIT_SALT;
  for (let i = 0; i < relativePath.length; i++) key = mix32(key ^ relativePath.charCodeAt(i));
  return hashIndex(key, relativePath.length) / 2 ** 32 < testFraction;
}

function listOf(entries: ImageEntry[], root: string): ImageList {
  const listing = entries.map((e) => `${path.relative(root, e.file)}\t${e.label}\n`).join('');
  return { entries, listing: Buffer.from(listing, 'utf8') };
}

/** The default shape: the first training image's size, grey (1 channel) when its pixels all are. */
async function shapeOfFirst(file: string): Promise<[number, number, 1 | 3]> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw fileError(file, err, 'restore the image or remove the file');
  }
  try {
    const image = decodeImage(bytes);
    let grey = true;
    for (let i = 0; i < image.rgba.length && grey; i += 4) {
      grey = image.rgba[i] === image.rgba[i + 1] && image.rgba[i] === image.rgba[i + 2];
    }
    return [image.height, image.width, grey ? 1 : 3];
  } catch (err) {
    throw invalidData(`image ${file} cannot be decoded: ${(err as Error).message}; replace it or remove the file`);
  }
}

export async function openImageFolderDataset(dir: string, options: ImageFolderOptions = {}): Promise<Dataset> {
  const top = await entriesOf(dir);
  const hasTrain = top.some((e) => e.isDirectory() && e.name === 'train');
  let train: ImageEntry[];
  let test: ImageEntry[];
  let classes: string[];
  const entry = (file: string, label: number): ImageEntry => ({ file, label, where: 'image' });
  if (hasTrain) {
    if (options.testFraction !== undefined) {
      throw invalidData(
        `${dir}: has train/ (and test/) folders, so dataset.testFraction does not apply; remove it or the split folders`,
      );
    }
    const trainFolders = await readClassFolders(path.join(dir, 'train'));
    classes = trainFolders.classes;
    train = trainFolders.files.flatMap((files, label) => files.map((f) => entry(f, label)));
    test = [];
    if (top.some((e) => e.isDirectory() && e.name === 'test')) {
      const testFolders = await readClassFolders(path.join(dir, 'test'));
      const unknown = testFolders.classes.filter((c) => !classes.includes(c));
      if (unknown.length > 0) {
        throw invalidData(
          `${path.join(dir, 'test')}: class folder${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} not in ${path.join(dir, 'train')} (classes: ${classes.join(', ')}); the test classes must be training classes`,
        );
      }
      test = testFolders.files.flatMap((files, i) =>
        files.map((f) => entry(f, classes.indexOf(testFolders.classes[i]))),
      );
    }
  } else {
    const fraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
    if (!(fraction >= 0 && fraction < 1)) throw invalidData(`dataset.testFraction ${fraction}: must be in [0, 1)`);
    const folders = await readClassFolders(dir);
    classes = folders.classes;
    train = [];
    test = [];
    folders.files.forEach((files, label) => {
      for (const file of files)
        (isTestFile(path.relative(dir, file), fraction) ? test : train).push(entry(file, label));
    });
    if (train.length === 0) throw invalidData(`${dir}: testFraction ${fraction} left no training images`);
  }
  if (options.confine) {
    const outside = [...train, ...test].find((e) => !options.confine!.lexicallyInside(e.file));
    if (outside) await options.confine.check(outside.file, 'image');
  }
  const [firstHeight, firstWidth, firstChannels] =
    options.height !== undefined && options.width !== undefined && options.channels !== undefined
      ? [options.height, options.width, options.channels]
      : await shapeOfFirst(train[0].file);
  return imageListDataset({
    format: 'image-folder',
    name: `image-folder (${dir})`,
    shape: [options.height ?? firstHeight, options.width ?? firstWidth, options.channels ?? firstChannels],
    numClasses: classes.length,
    classNames: classes,
    train: listOf(train, dir),
    test: listOf(test, dir),
    removeHint: 'remove the file',
    hashImages: options.hashImages,
    confine: options.confine,
  });
}
