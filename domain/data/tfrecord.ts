/**
 * TFRecord shards of tf.train.Example (the layout of the public ImageNet
 * TFRecords): `train-*` shards form the training split, `validation-*` or
 * `test-*` shards the test split, all in one folder, local or gs://. Each
 * example holds an encoded PNG/JPEG (default feature `image/encoded`) and an
 * int64 label (default `image/class/label`; `labelOffset` 1 for ImageNet's
 * 1-based labels). Reads go through per-shard record indices (tfrecord-index.ts):
 * one positioned read per run of consecutive records, every CRC checked,
 * images decoded per read. README "Your model, your data" has the layout.
 */
import type { DataConfinement } from './data-roots';
import { assembleDataset, splits, type ByteBatch, type Dataset, type Split, type SplitSource } from './dataset';
import { sha256Json } from './file-hash';
import { decodeImage, fitImage } from './image-decode';
import { invalidData } from './invalid-data';
import type { Run } from './read-plan';
import { listShardFiles, type ByteRange, type ShardFile } from './shard-files';
import {
  checkFrame,
  FRAME_OVERHEAD,
  loadShardIndex,
  readExampleFields,
  type FeatureKeys,
  type ShardIndex,
} from './tfrecord-index';

export interface TfrecordOptions {
  height?: number;
  width?: number;
  channels?: 1 | 3;
  imageFeature?: string;
  labelFeature?: string;
  /** Subtracted from every stored label (1 for labels that count from 1). */
  labelOffset?: number;
  /** The class count; default: the largest label (after the offset) plus one. */
  classes?: number;
  cacheDir: string;
  confine?: DataConfinement;
}

export const DEFAULT_FEATURES: FeatureKeys = { image: 'image/encoded', label: 'image/class/label' };
const SPLIT_PATTERNS: Record<Split, RegExp> = {
  train: /^train(?:[-_.]|$)/,
  test: /^(?:validation|valid|val|test)(?:[-_.]|$)/,
};
/** Records farther apart than this are fetched by separate reads. */
const MAX_GAP_BYTES = 256 << 10;
/** One read never asks for more than this, so memory stays bounded for long runs of large records. */
const MAX_READ_BYTES = 16 << 20;
/** Shards indexed at once when first opened. */
const INDEX_CONCURRENCY = 4;

interface Shard {
  file: ShardFile;
  index: ShardIndex;
}

/** A raw record: its encoded image (a view into the read buffer) and its label after the offset. */
export interface TfrecordSample {
  image: Uint8Array;
  label: number;
  /** Where it came from, for messages. */
  shard: string;
  record: number;
  offset: number;
}

/** The shards of one split laid end to end. */
export class ShardSequence {
  readonly count: number;
  private readonly firsts: number[] = [];

  constructor(
    readonly shards: readonly Shard[],
    private readonly keys: FeatureKeys,
    private readonly labelOffset: number,
  ) {
    let total = 0;
    for (const shard of shards) {
      this.firsts.push(total);
      total += shard.index.count;
    }
    this.count = total;
  }

  labels(): Int32Array {
    const out = new Int32Array(this.count);
    this.shards.forEach((shard, s) => {
      const first = this.firsts[s];
      for (let i = 0; i < shard.index.count; i++) out[first + i] = shard.index.labels[i] - this.labelOffset;
    });
    return out;
  }

  /**
   * Calls `visit` for every record of `runs`, in order (position = place in the
   * concatenated runs), after reading each shard's share with as few reads as
   * the gap and size limits allow. Frames and CRCs are checked.
   */
  async readRuns(runs: readonly Run[], visit: (sample: TfrecordSample, position: number) => void): Promise<void> {
    // Per shard: the records wanted (shard-local index, output position).
    const wanted = this.shards.map(() => [] as Array<[number, number]>);
    let position = 0;
    for (const run of runs) {
      for (let s = 0; s < this.shards.length; s++) {
        const first = this.firsts[s];
        const from = Math.max(run.start, first);
        const to = Math.min(run.start + run.count, first + this.shards[s].index.count);
        for (let i = from; i < to; i++) wanted[s].push([i - first, position + (i - run.start)]);
      }
      position += run.count;
    }
    await Promise.all(
      this.shards.map(async (shard, s) => {
        const records = wanted[s];
        if (records.length === 0) return;
        records.sort((a, b) => a[0] - b[0]);
        const { offsets, lengths } = shard.index;
        const ranges: ByteRange[] = [];
        const members: Array<Array<[number, number]>> = [];
        for (const record of records) {
          const start = offsets[record[0]];
          const end = start + lengths[record[0]] + FRAME_OVERHEAD;
          const last = ranges[ranges.length - 1];
          if (
            last !== undefined &&
            start >= last.offset + last.length &&
            start - (last.offset + last.length) <= MAX_GAP_BYTES &&
            end - last.offset <= MAX_READ_BYTES
          ) {
            last.length = end - last.offset;
            members[members.length - 1].push(record);
          } else {
            ranges.push({ offset: start, length: end - start });
            members.push([record]);
          }
        }
        const buffers = await shard.file.readRanges(ranges);
        buffers.forEach((buffer, r) => {
          for (const [record, at] of members[r]) {
            const offset = offsets[record];
            const begin = offset - ranges[r].offset;
            const frame = buffer.subarray(begin, begin + lengths[record] + FRAME_OVERHEAD);
            const data = checkFrame(frame, shard.file.uri, record, offset);
            const { image, label } = readExampleFields(data, this.keys, shard.file.uri, record, offset);
            visit({ image, label: label - this.labelOffset, shard: shard.file.uri, record, offset }, at);
          }
        });
      }),
    );
  }
}

export interface TfrecordShards {
  folder: string;
  splits: Record<Split, ShardSequence>;
  numClasses: number;
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Lists, indexes (or loads the cached indices of) and checks the shards in `folder`. */
export async function openTfrecordShards(folder: string, options: TfrecordOptions): Promise<TfrecordShards> {
  const keys: FeatureKeys = {
    image: options.imageFeature ?? DEFAULT_FEATURES.image,
    label: options.labelFeature ?? DEFAULT_FEATURES.label,
  };
  const labelOffset = options.labelOffset ?? 0;
  const files = (await listShardFiles(folder)).filter((f) => !/\.(?:idx|index|json|txt|md)$/i.test(f.name));
  const bySplit = { train: [] as ShardFile[], test: [] as ShardFile[] };
  for (const file of files) {
    for (const split of splits) if (SPLIT_PATTERNS[split].test(file.name)) bySplit[split].push(file);
  }
  if (bySplit.train.length === 0) {
    const seen = files.slice(0, 5).map((f) => f.name);
    throw invalidData(
      `${folder}: no training shards; name them train-* (e.g. train-00000-of-01024) and the test shards validation-* or test-*` +
        (seen.length > 0 ? `; found ${seen.join(', ')}${files.length > 5 ? ', ...' : ''}` : '; the folder is empty'),
    );
  }
  if (options.confine) {
    for (const file of [...bySplit.train, ...bySplit.test]) await options.confine.check(file.uri, 'shard');
  }
  const open = async (list: ShardFile[]): Promise<Shard[]> =>
    mapLimited(list, INDEX_CONCURRENCY, async (file) => ({
      file,
      index: await loadShardIndex(file, keys, options.cacheDir),
    }));
  const sequences = {
    train: new ShardSequence(await open(bySplit.train), keys, labelOffset),
    test: new ShardSequence(await open(bySplit.test), keys, labelOffset),
  };
  if (sequences.train.count === 0) throw invalidData(`${folder}: the training shards hold no records`);
  let largest = -1;
  for (const split of splits) {
    for (const shard of sequences[split].shards) {
      const { labels } = shard.index;
      for (let i = 0; i < labels.length; i++) {
        const label = labels[i] - labelOffset;
        if (label < 0 || (options.classes !== undefined && label >= options.classes)) {
          throw invalidData(
            `${shard.file.uri}: record ${i} at byte offset ${shard.index.offsets[i]}: label ${labels[i]}` +
              `${labelOffset ? ` (minus labelOffset ${labelOffset} = ${label})` : ''} is outside 0..${(options.classes ?? Infinity) - 1}; ` +
              'check dataset.tfrecord.labelOffset and dataset.tfrecord.classes',
          );
        }
        if (label > largest) largest = label;
      }
    }
  }
  return { folder, splits: sequences, numClasses: options.classes ?? largest + 1 };
}

function describeDecodeError(sample: TfrecordSample, err: unknown): Error {
  return invalidData(
    `${sample.shard}: record ${sample.record} at byte offset ${sample.offset}: the image (${sample.image.length} bytes) ` +
      `cannot be decoded: ${(err as Error).message}; the shard must hold PNG or JPEG images`,
  );
}

/** The default shape: the first training image's size, grey when its pixels all are. */
async function shapeOfFirst(train: ShardSequence): Promise<[number, number, 1 | 3]> {
  let shape: [number, number, 1 | 3] | undefined;
  await train.readRuns([{ start: 0, count: 1 }], (sample) => {
    try {
      const image = decodeImage(sample.image);
      let grey = true;
      for (let i = 0; i < image.rgba.length && grey; i += 4) {
        grey = image.rgba[i] === image.rgba[i + 1] && image.rgba[i] === image.rgba[i + 2];
      }
      shape = [image.height, image.width, grey ? 1 : 3];
    } catch (err) {
      throw describeDecodeError(sample, err);
    }
  });
  return shape!;
}

export async function openTfrecordDataset(folder: string, options: TfrecordOptions): Promise<Dataset> {
  const shards = await openTfrecordShards(folder, options);
  const first =
    options.height !== undefined && options.width !== undefined && options.channels !== undefined
      ? undefined
      : await shapeOfFirst(shards.splits.train);
  const shape: [number, number, 1 | 3] = [
    options.height ?? first![0],
    options.width ?? first![1],
    options.channels ?? first![2],
  ];
  const sampleBytes = shape[0] * shape[1] * shape[2];
  const source = (sequence: ShardSequence): SplitSource => ({
    count: sequence.count,
    maxGap: 0,
    readRuns: async (runs) => {
      const total = runs.reduce((n, r) => n + r.count, 0);
      const pixels = new Uint8Array(total * sampleBytes);
      const labels = new Int32Array(total);
      await sequence.readRuns(runs, (sample, at) => {
        try {
          fitImage(decodeImage(sample.image), shape[0], shape[1], shape[2], pixels, at * sampleBytes);
        } catch (err) {
          throw describeDecodeError(sample, err);
        }
        labels[at] = sample.label;
      });
      const batches: ByteBatch[] = [];
      let at = 0;
      for (const run of runs) {
        batches.push({
          count: run.count,
          pixels: pixels.subarray(at * sampleBytes, (at + run.count) * sampleBytes),
          labels: labels.subarray(at, at + run.count),
        });
        at += run.count;
      }
      return batches;
    },
    readLabels: async () => sequence.labels(),
  });
  const shardList = (split: Split) =>
    shards.splits[split].shards.map((s) => ({ name: s.file.name, bytes: s.file.size, sha256: s.index.sha256 }));
  return assembleDataset({
    info: {
      kind: 'tfrecord',
      name: `tfrecord (${folder})`,
      samples: { train: shards.splits.train.count, test: shards.splits.test.count },
      shape,
      numClasses: shards.numClasses,
    },
    sources: { train: source(shards.splits.train), test: source(shards.splits.test) },
    computeFingerprint: async () =>
      sha256Json({
        format: 'tfrecord',
        shape,
        numClasses: shards.numClasses,
        imageFeature: options.imageFeature ?? DEFAULT_FEATURES.image,
        labelFeature: options.labelFeature ?? DEFAULT_FEATURES.label,
        labelOffset: options.labelOffset ?? 0,
        train: shardList('train'),
        test: shardList('test'),
      }),
  });
}
