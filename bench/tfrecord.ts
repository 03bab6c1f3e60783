/**
 * TFRecord shards at scale: writes about 1 GiB of tf.train.Example records
 * (32x32 RGB PNGs, ImageNet feature names) in train-* shards, then measures
 * the first open (every shard scanned, CRC-checked, hashed and indexed), a
 * cached open, raw random reads (records framed, CRC-checked and parsed, not
 * decoded) and decoded random reads through the dataset interface, with peak
 * RSS. Targets: >= 20,000 raw records/s, >= 5,000 decoded images/s, RSS
 * < 300 MiB for the 1 GiB set.
 *
 *   node dist/bench/tfrecord.js [--mib=1024] [--shards=32] [--batch=512] [--raw=100000] [--decoded=20000]
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mulberry32, seededPermutation } from '../contracts/seeded-hash';
import { encodeExample } from '../domain/data/tf-example';
import { openTfrecordDataset, openTfrecordShards } from '../domain/data/tfrecord';
import { planRuns } from '../domain/data/read-plan';
import { classImage } from '../test/helpers/image-folders';
import { tfrecordFrame } from '../test/helpers/tfrecords';
import { numberArg } from './bench-args';
import { machineLine, sampleRss } from './machine';

const CLASSES = 10;

/** Writes shards of `records` frames each (cycling through a pool of distinct PNGs) until `bytes` are written. */
function writeShards(dir: string, bytes: number, shards: number): { records: number; bytes: number } {
  const random = mulberry32(3);
  const pool = Array.from({ length: 500 }, (_, i) => ({
    label: i % CLASSES,
    png: classImage(i % CLASSES, CLASSES, 32, false, random),
  }));
  const perShard = bytes / shards;
  let records = 0;
  let total = 0;
  for (let s = 0; s < shards; s++) {
    const fd = openSync(
      path.join(dir, `train-${String(s).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}`),
      'w',
    );
    try {
      const chunk: Buffer[] = [];
      let written = 0;
      let pending = 0;
      while (written < perShard) {
        const { label, png } = pool[records % pool.length];
        const frame = tfrecordFrame(
          encodeExample({
            'image/encoded': { bytes: [png] },
            'image/class/label': { int64: [label + 1] },
            'image/format': { bytes: [Buffer.from('PNG')] },
            'image/filename': { bytes: [Buffer.from(`n${String(records).padStart(8, '0')}.png`)] },
          }),
        );
        chunk.push(frame);
        pending += frame.length;
        written += frame.length;
        records++;
        if (pending > 4 << 20) {
          writeSync(fd, Buffer.concat(chunk));
          chunk.length = 0;
          pending = 0;
        }
      }
      if (chunk.length > 0) writeSync(fd, Buffer.concat(chunk));
      total += written;
    } finally {
      closeSync(fd);
    }
  }
  return { records, bytes: total };
}

/** Shuffled batches of `batch` indices out of `count`, `total` indices in all. */
function* shuffledBatches(count: number, total: number, batch: number): Generator<number[]> {
  const order = seededPermutation(count, 7);
  for (let at = 0; at < total; at += batch) {
    const out: number[] = [];
    for (let i = at; i < Math.min(at + batch, total); i++) out.push(order[i % count]);
    yield out;
  }
}

async function main(): Promise<void> {
  const mib = numberArg('mib', 1024, true);
  const shards = numberArg('shards', 32, true);
  const batch = numberArg('batch', 512, true);
  const rawReads = numberArg('raw', 100_000, true);
  const decodedReads = numberArg('decoded', 20_000, true);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'winnow-bench-tfrecord-'));
  const cacheDir = path.join(dir, 'cache');
  const data = path.join(dir, 'shards');
  try {
    mkdirSync(data);
    let t = performance.now();
    const set = writeShards(data, mib * 2 ** 20, shards);
    const writeSeconds = (performance.now() - t) / 1000;
    console.log(machineLine());
    console.log(
      `${set.records} records (32x32x3 PNG, ${(set.bytes / set.records).toFixed(0)} B each) in ${shards} shards, ` +
        `${(set.bytes / 2 ** 30).toFixed(2)} GiB (written in ${writeSeconds.toFixed(1)} s)`,
    );
    const rss = sampleRss();

    t = performance.now();
    await openTfrecordShards(data, { cacheDir, labelOffset: 1 });
    const scan = (performance.now() - t) / 1000;
    t = performance.now();
    const opened = await openTfrecordShards(data, { cacheDir, labelOffset: 1 });
    const cached = (performance.now() - t) / 1000;
    console.log(
      `first open (scan, CRC, sha256, index): ${scan.toFixed(1)} s = ${(set.bytes / 2 ** 20 / scan).toFixed(0)} MiB/s; ` +
        `cached open: ${(cached * 1000).toFixed(0)} ms`,
    );

    const train = opened.splits.train;
    let seen = 0;
    let checksum = 0;
    t = performance.now();
    for (const indices of shuffledBatches(train.count, rawReads, batch)) {
      const runs = planRuns(
        indices.sort((a, b) => a - b),
        0,
      );
      await train.readRuns(runs, (sample) => {
        seen++;
        checksum += sample.image.length + sample.label;
      });
    }
    const raw = seen / ((performance.now() - t) / 1000);
    console.log(
      `raw random reads (framed, CRC-checked, parsed), batches of ${batch}: ${raw.toFixed(0)} records/s ` +
        `(target >= 20,000: ${raw >= 20_000 ? 'met' : 'NOT met'}; ${seen} records, checksum ${checksum})`,
    );

    const ds = await openTfrecordDataset(data, { cacheDir, labelOffset: 1 });
    let decoded = 0;
    t = performance.now();
    for (const indices of shuffledBatches(ds.info.samples.train, decodedReads, batch)) {
      decoded += (await ds.readIndicesBytes('train', indices)).count;
    }
    const rate = decoded / ((performance.now() - t) / 1000);
    const peak = rss.stop();
    console.log(
      `decoded random reads through the dataset, batches of ${batch}: ${rate.toFixed(0)} images/s ` +
        `(target >= 5,000: ${rate >= 5000 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `peak RSS while opening and reading: ${peak.toFixed(0)} MiB (target < 300: ${peak < 300 ? 'met' : 'NOT met'})`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
