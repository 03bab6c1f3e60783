/**
 * IDX files (MNIST, Fashion-MNIST): a big-endian header (magic 0x00000803
 * for 3-d unsigned-byte images, 0x00000801 for 1-d labels, then one uint32
 * per dimension) followed by the data. Files may be gzipped.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { assembleDataset, type Dataset, type Split, type SplitSource } from './dataset';
import { sha256File, sha256Json } from './file-hash';
import type { DataConfinement } from './data-roots';
import { rawFileFor, type RawFile } from './gunzip-cache';
import { fileError, invalidData } from './invalid-data';
import { describeFile, RecordReader } from './record-file';

export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

export interface IdxHeader {
  magic: number;
  dims: number[];
  headerBytes: number;
}

/**
 * Checks an IDX header against the expected magic and the file's length.
 * `where` names the file in messages. Pure: takes the first bytes and the size.
 */
export function parseIdxHeader(head: Uint8Array, fileBytes: number, expectedMagic: number, where: string): IdxHeader {
  const ndims = expectedMagic & 0xff;
  const headerBytes = 4 + 4 * ndims;
  if (fileBytes < headerBytes || head.length < headerBytes) {
    throw invalidData(
      `${where}: only ${fileBytes} bytes, shorter than the ${headerBytes}-byte IDX header; the file is truncated, replace it`,
    );
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = view.getUint32(0);
  if (magic !== expectedMagic) {
    throw invalidData(
      `${where}: byte offset 0 holds magic number ${magic} (0x${magic.toString(16).padStart(8, '0')}), expected ${expectedMagic} ` +
        `(0x${expectedMagic.toString(16).padStart(8, '0')}, ${expectedMagic === IDX_IMAGES_MAGIC ? 'IDX images' : 'IDX labels'}); ` +
        'the file is not an IDX file of that kind (swapped images/labels, or corrupt); use the right file',
    );
  }
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d));
  dims.forEach((size, d) => {
    if (size === 0 && d > 0)
      throw invalidData(
        `${where}: dimension ${d} at byte offset ${4 + 4 * d} is 0; the header is corrupt, replace the file`,
      );
  });
  const expected = headerBytes + dims.reduce((a, b) => a * b, 1);
  if (fileBytes !== expected) {
    const declared = dims.join(' x ');
    throw invalidData(
      fileBytes < expected
        ? `${where}: truncated: the header (bytes 0-${headerBytes - 1}) declares ${declared} bytes of data, so ${expected} bytes in all, ` +
            `but the file ends at byte offset ${fileBytes}; re-download or reinstall it`
        : `${where}: ${fileBytes - expected} unexpected bytes after byte offset ${expected} (the header declares ${declared}); ` +
            'the file is corrupt or not IDX; replace it',
    );
  }
  return { magic, dims, headerBytes };
}

export interface IdxOptions {
  kind: string;
  name: string;
  numClasses: number;
  classNames?: string[];
  cacheDir: string;
  /** What to tell the user when a file is missing or broken. */
  hint: string;
  /** Set when the folder came from a search config: every file read must lie inside the allowed data roots. */
  confine?: DataConfinement;
}

interface IdxSplit {
  images: RawFile;
  labelsFile: RawFile;
  reader: RecordReader;
  labels: Int32Array;
  rows: number;
  cols: number;
}

const splitPrefix: Record<Split, string> = { train: 'train', test: 't10k' };

/** Finds `<prefix>-images-idx3-ubyte` (also `.idx3-ubyte` spelling, gzipped or not) in `dir`. */
export async function findIdxFile(dir: string, split: Split, what: 'images' | 'labels', hint: string): Promise<string> {
  const rank = what === 'images' ? 3 : 1;
  const stem = `${splitPrefix[split]}-${what}`;
  const names = [`${stem}-idx${rank}-ubyte`, `${stem}.idx${rank}-ubyte`].flatMap((n) => [n, `${n}.gz`]);
  for (const name of names) {
    const candidate = path.join(dir, name);
    try {
      if ((await fs.stat(candidate)).isFile()) return candidate;
    } catch {
      // try the next spelling
    }
  }
  throw invalidData(`${path.join(dir, names[0])}: file not found (also tried ${names.slice(1).join(', ')}); ${hint}`);
}

export async function openIdxDataset(dir: string, options: IdxOptions): Promise<Dataset> {
  const train = await openIdxSplit(
    await findIdxFile(dir, 'train', 'images', options.hint),
    await findIdxFile(dir, 'train', 'labels', options.hint),
    options,
  );
  const test = await openIdxSplit(
    await findIdxFile(dir, 'test', 'images', options.hint),
    await findIdxFile(dir, 'test', 'labels', options.hint),
    options,
  );
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw invalidData(
      `${test.images.source}: images are ${test.rows}x${test.cols} but ${train.images.source} has ${train.rows}x${train.cols}; ` +
        'the two splits come from different datasets',
    );
  }
  const source = (s: IdxSplit): SplitSource => ({
    count: s.labels.length,
    // Reading through up to 64 KiB of unwanted images beats another read call.
    maxGap: Math.floor(65536 / (s.rows * s.cols)),
    readRuns: async (runs) => {
      const buffers = await s.reader.readRuns(runs);
      return runs.map((run, i) => ({
        count: run.count,
        pixels: buffers[i],
        labels: s.labels.slice(run.start, run.start + run.count),
      }));
    },
    readLabels: async () => s.labels,
  });
  return assembleDataset({
    info: {
      kind: options.kind,
      name: `${options.name} (${dir})`,
      samples: { train: train.labels.length, test: test.labels.length },
      shape: [train.rows, train.cols, 1],
      numClasses: options.numClasses,
      classNames: options.classNames,
    },
    sources: { train: source(train), test: source(test) },
    computeFingerprint: async () => {
      const hash = async (file: RawFile) => file.rawSha256 ?? sha256File(file.path);
      return sha256Json({
        format: 'idx',
        train: { images: await hash(train.images), labels: await hash(train.labelsFile) },
        test: { images: await hash(test.images), labels: await hash(test.labelsFile) },
      });
    },
  });
}

async function readHead(file: RawFile, bytes: number): Promise<Buffer> {
  const handle = await fs.open(file.path, 'r');
  try {
    const head = Buffer.alloc(Math.min(bytes, file.bytes));
    await handle.read(head, 0, head.length, 0);
    return head;
  } finally {
    await handle.close();
  }
}

async function openIdxSplit(imagesPath: string, labelsPath: string, options: IdxOptions): Promise<IdxSplit> {
  const images = await rawFileFor(imagesPath, options.cacheDir, options.hint, options.confine);
  const labelsFile = await rawFileFor(labelsPath, options.cacheDir, options.hint, options.confine);
  const imageHeader = parseIdxHeader(await readHead(images, 16), images.bytes, IDX_IMAGES_MAGIC, describeFile(images));
  let labelBytes: Buffer;
  try {
    labelBytes = await fs.readFile(labelsFile.path);
  } catch (err) {
    throw fileError(labelsFile.source, err, options.hint);
  }
  const labelHeader = parseIdxHeader(labelBytes, labelBytes.length, IDX_LABELS_MAGIC, describeFile(labelsFile));
  const [count, rows, cols] = imageHeader.dims;
  const [labelCount] = labelHeader.dims;
  if (count !== labelCount) {
    throw invalidData(
      `${labelsFile.source}: ${labelCount} labels (header, byte offset 4) but ${images.source} holds ${count} images; ` +
        'the images and labels files do not belong together; use a matching pair',
    );
  }
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labelBytes[labelHeader.headerBytes + i];
    if (label >= options.numClasses) {
      throw invalidData(
        `${describeFile(labelsFile)}: label ${label} at byte offset ${labelHeader.headerBytes + i} (sample ${i}) is out of range ` +
          `0-${options.numClasses - 1} for ${options.name}; the file is corrupt or from another dataset, replace it`,
      );
    }
    labels[i] = label;
  }
  const reader = new RecordReader([{ file: images, headerBytes: imageHeader.headerBytes, count }], rows * cols);
  return { images, labelsFile, reader, labels, rows, cols };
}
