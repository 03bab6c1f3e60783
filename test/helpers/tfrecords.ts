/**
 * Writes small TFRecord shards of tf.train.Example in the public ImageNet
 * layout (image/encoded PNG, image/class/label int64) for the tests, with
 * the record framing spelled out here rather than taken from the reader.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mulberry32 } from '../../contracts/seeded-hash';
import { maskedCrc32c } from '../../domain/data/crc32c';
import { encodeExample, type FeatureInput } from '../../domain/data/tf-example';
import { classImage } from './image-folders';

/** One TFRecord frame: u64 length, masked CRC of the length, data, masked CRC of the data. */
export function tfrecordFrame(data: Uint8Array): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32LE(data.length, 0);
  head.writeUInt32LE(0, 4);
  head.writeUInt32LE(maskedCrc32c(head, 0, 8), 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([head, data, tail]);
}

export function tfrecordFile(records: Array<Record<string, FeatureInput>>): Buffer {
  return Buffer.concat(records.map((features) => tfrecordFrame(encodeExample(features))));
}

export interface ShardSetSpec {
  classes: number;
  /** Records per training shard, e.g. [5, 4] for two shards. */
  train: number[];
  /** Records per test shard (named validation-*). */
  test: number[];
  side: number;
  grey?: boolean;
  /** Added to every stored label (1 gives ImageNet's 1-based labels). */
  labelBase?: number;
  seed?: number;
}

export interface WrittenShards {
  dir: string;
  /** Labels (0-based) of the training and test records, in shard order. */
  labels: { train: number[]; test: number[] };
  /** The encoded images, in the same order. */
  images: { train: Buffer[]; test: Buffer[] };
  files: { train: string[]; test: string[] };
}

/** Writes `train-0000k-of-0000n` and `validation-...` shards of class-bar PNGs into `dir`. */
export function writeTfrecordShards(dir: string, spec: ShardSetSpec): WrittenShards {
  mkdirSync(dir, { recursive: true });
  const random = mulberry32(spec.seed ?? 1);
  const out: WrittenShards = {
    dir,
    labels: { train: [], test: [] },
    images: { train: [], test: [] },
    files: { train: [], test: [] },
  };
  let n = 0;
  for (const [split, prefix] of [
    ['train', 'train'],
    ['test', 'validation'],
  ] as const) {
    const counts = spec[split];
    counts.forEach((count, s) => {
      const records: Array<Record<string, FeatureInput>> = [];
      for (let r = 0; r < count; r++) {
        const label = n++ % spec.classes;
        const png = classImage(label, spec.classes, spec.side, spec.grey ?? true, random);
        out.labels[split].push(label);
        out.images[split].push(png);
        records.push({
          'image/encoded': { bytes: [png] },
          'image/class/label': { int64: [label + (spec.labelBase ?? 0)] },
          'image/format': { bytes: [Buffer.from('PNG')] },
          'image/height': { int64: [spec.side] },
        });
      }
      const name = `${prefix}-${String(s).padStart(5, '0')}-of-${String(counts.length).padStart(5, '0')}`;
      writeFileSync(path.join(dir, name), tfrecordFile(records));
      out.files[split].push(path.join(dir, name));
    });
  }
  return out;
}
