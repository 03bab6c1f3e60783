/**
 * CIFAR-10/100 binary batches. Each record is the label byte(s) followed by
 * a 32x32 colour image stored plane by plane (1024 red, 1024 green, 1024
 * blue bytes, rows top to bottom); reads return it in HWC order.
 * CIFAR-10: data_batch_1..5.bin + test_batch.bin, one label byte.
 * CIFAR-100: train.bin + test.bin, a coarse (0-19) then a fine (0-99) label byte.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { assembleDataset, type ByteBatch, type Dataset, type Split, type SplitSource } from './dataset';
import { sha256File, sha256Json } from './file-hash';
import type { DataConfinement } from './data-roots';
import { rawFileFor } from './gunzip-cache';
import { invalidData } from './invalid-data';
import { describeFile, RecordReader, type RecordSegment } from './record-file';

const SIDE = 32;
const PLANE = SIDE * SIDE;
const PIXEL_BYTES = 3 * PLANE;

export type CifarVariant = 'cifar10' | 'cifar100';
export type Cifar100Labels = 'fine' | 'coarse';

export interface CifarOptions {
  variant: CifarVariant;
  /** CIFAR-100 only: which label byte is the class (default fine). */
  labels?: Cifar100Labels;
  cacheDir: string;
  hint: string;
  /** Set when the folder came from a search config: every file read must lie inside the allowed data roots. */
  confine?: DataConfinement;
}

const cifar10Names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

interface Layout {
  labelBytes: number;
  labelOffset: number;
  numClasses: number;
  namesFile: string;
  subfolder: string;
}

function layoutOf(options: CifarOptions): Layout {
  if (options.variant === 'cifar10') {
    return {
      labelBytes: 1,
      labelOffset: 0,
      numClasses: 10,
      namesFile: 'batches.meta.txt',
      subfolder: 'cifar-10-batches-bin',
    };
  }
  const coarse = options.labels === 'coarse';
  return {
    labelBytes: 2,
    labelOffset: coarse ? 0 : 1,
    numClasses: coarse ? 20 : 100,
    namesFile: coarse ? 'coarse_label_names.txt' : 'fine_label_names.txt',
    subfolder: 'cifar-100-binary',
  };
}

/** The folder holding the .bin files: `dir` itself or its standard subfolder from the tarball. */
async function dataFolder(dir: string, layout: Layout): Promise<string> {
  try {
    if ((await fs.stat(path.join(dir, layout.subfolder))).isDirectory()) return path.join(dir, layout.subfolder);
  } catch {
    // not there: the files sit in dir
  }
  return dir;
}

async function splitFiles(folder: string, variant: CifarVariant, split: Split, hint: string): Promise<string[]> {
  if (variant === 'cifar100') return [path.join(folder, `${split}.bin`)];
  if (split === 'test') return [path.join(folder, 'test_batch.bin')];
  let names: string[];
  try {
    names = await fs.readdir(folder);
  } catch {
    throw invalidData(`${folder}: folder not found; ${hint}`);
  }
  const batches = names
    .map((n) => /^data_batch_(\d+)\.bin(\.gz)?$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => path.join(folder, m[0]));
  if (batches.length === 0)
    throw invalidData(
      `${path.join(folder, 'data_batch_1.bin')}: file not found (no data_batch_N.bin in ${folder}); ${hint}`,
    );
  return batches;
}

async function readClassNames(
  folder: string,
  layout: Layout,
  fallback: string[] | undefined,
  confine?: DataConfinement,
): Promise<string[] | undefined> {
  await confine?.check(path.join(folder, layout.namesFile), 'dataset file');
  try {
    const names = (await fs.readFile(path.join(folder, layout.namesFile), 'utf8'))
      .split('\n')
      .map((n) => n.trim())
      .filter((n) => n.length > 0);
    return names.length === layout.numClasses ? names : fallback;
  } catch {
    return fallback;
  }
}

export async function openCifarDataset(dir: string, options: CifarOptions): Promise<Dataset> {
  const layout = layoutOf(options);
  const recordBytes = layout.labelBytes + PIXEL_BYTES;
  const folder = await dataFolder(dir, layout);

  const openSplit = async (split: Split): Promise<RecordReader> => {
    const segments: RecordSegment[] = [];
    for (const file of await splitFiles(folder, options.variant, split, options.hint)) {
      const raw = await rawFileFor(file, options.cacheDir, options.hint, options.confine);
      if (raw.bytes === 0 || raw.bytes % recordBytes !== 0) {
        const whole = Math.floor(raw.bytes / recordBytes);
        throw invalidData(
          `${describeFile(raw)}: ${raw.bytes} bytes is not a whole number of ${recordBytes}-byte ${options.variant} records ` +
            (raw.bytes === 0
              ? '(the file is empty)'
              : `(${whole} whole records, then ${raw.bytes - whole * recordBytes} bytes of a truncated record at byte offset ${whole * recordBytes})`) +
            `; re-extract the ${options.variant} binary archive`,
        );
      }
      segments.push({ file: raw, headerBytes: 0, count: raw.bytes / recordBytes });
    }
    return new RecordReader(segments, recordBytes);
  };
  const readers = { train: await openSplit('train'), test: await openSplit('test') };

  /** Label of record r in `records` (first record = global index `first`), range-checked. */
  const labelAt = (records: Uint8Array, r: number, first: number, reader: RecordReader): number => {
    const label = records[r * recordBytes + layout.labelOffset];
    if (label >= layout.numClasses) {
      const { segment, local } = locate(reader, first + r);
      throw invalidData(
        `${describeFile(segment.file)}: label ${label} at byte offset ${local * recordBytes + layout.labelOffset} (record ${local}) ` +
          `is out of range 0-${layout.numClasses - 1}; the file is corrupt or not ${options.variant}; re-extract it`,
      );
    }
    return label;
  };

  const source = (reader: RecordReader): SplitSource => ({
    count: reader.count,
    maxGap: Math.floor(65536 / recordBytes),
    readRuns: async (runs) => {
      const buffers = await reader.readRuns(runs);
      return runs.map((run, i): ByteBatch => {
        const records = buffers[i];
        const pixels = new Uint8Array(run.count * PIXEL_BYTES);
        const labels = new Int32Array(run.count);
        for (let r = 0; r < run.count; r++) {
          labels[r] = labelAt(records, r, run.start, reader);
          const from = r * recordBytes + layout.labelBytes;
          const to = r * PIXEL_BYTES;
          for (let p = 0; p < PLANE; p++) {
            pixels[to + 3 * p] = records[from + p];
            pixels[to + 3 * p + 1] = records[from + PLANE + p];
            pixels[to + 3 * p + 2] = records[from + 2 * PLANE + p];
          }
        }
        return { count: run.count, pixels, labels };
      });
    },
    readLabels: async () => {
      const labels = new Int32Array(reader.count);
      await reader.forEachChunk((records, first) => {
        const n = records.length / recordBytes;
        for (let r = 0; r < n; r++) labels[first + r] = labelAt(records, r, first, reader);
      });
      return labels;
    },
  });

  return assembleDataset({
    info: {
      kind: options.variant,
      name: `${options.variant}${options.variant === 'cifar100' ? `-${options.labels ?? 'fine'}` : ''} (${dir})`,
      samples: { train: readers.train.count, test: readers.test.count },
      shape: [SIDE, SIDE, 3],
      numClasses: layout.numClasses,
      classNames: await readClassNames(
        folder,
        layout,
        options.variant === 'cifar10' ? cifar10Names : undefined,
        options.confine,
      ),
    },
    sources: { train: source(readers.train), test: source(readers.test) },
    computeFingerprint: async () => {
      const hashes = async (reader: RecordReader) =>
        Promise.all(reader.segments.map((s) => s.file.rawSha256 ?? sha256File(s.file.path)));
      return sha256Json({
        format: options.variant,
        labelOffset: layout.labelOffset,
        train: await hashes(readers.train),
        test: await hashes(readers.test),
      });
    },
  });
}

function locate(reader: RecordReader, index: number): { segment: RecordSegment; local: number } {
  let local = index;
  for (const segment of reader.segments) {
    if (local < segment.count) return { segment, local };
    local -= segment.count;
  }
  throw new Error(`record ${index} beyond ${reader.count}`);
}
