/**
 * Random reads from an image folder: writes N 32x32 RGB PNGs in 10 class
 * folders (seeded), then reads them by shuffled index in batches through the
 * dataset interface, decoding every image. Prints decoded images/s and peak
 * RSS. Target: >= 5,000 images/s on this machine.
 *
 *   node dist/bench/image-folder.js [--images=6000] [--batch=512]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seededPermutation } from '../contracts/seeded-hash';
import { openImageFolderDataset } from '../domain/data/image-folder';
import { writeClassFolders } from '../test/helpers/image-folders';
import { numberArg } from './bench-args';
import { machineLine, sampleRss } from './machine';

async function main(): Promise<void> {
  const images = numberArg('images', 6000, true);
  const batch = numberArg('batch', 512, true);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'winnow-bench-image-folder-'));
  try {
    const classes = Array.from({ length: 10 }, (_, k) => `class-${k}`);
    const t0 = performance.now();
    writeClassFolders(dir, { classes, perClass: Math.ceil(images / 10), side: 32, grey: false, seed: 1 });
    const written = performance.now() - t0;
    const ds = await openImageFolderDataset(dir, { testFraction: 0 });
    const order = seededPermutation(ds.info.samples.train, 7);
    const rss = sampleRss();
    const start = performance.now();
    for (let at = 0; at < order.length; at += batch) {
      await ds.readIndices('train', Array.from(order.subarray(at, at + batch)));
    }
    const seconds = (performance.now() - start) / 1000;
    const peak = rss.stop();
    console.log(machineLine());
    console.log(
      `${ds.info.samples.train} PNGs 32x32x3 in 10 class folders (written in ${(written / 1000).toFixed(1)} s)`,
    );
    const rate = ds.info.samples.train / seconds;
    console.log(
      `random reads, batches of ${batch}: ${rate.toFixed(0)} decoded images/s (target >= 5,000: ${rate >= 5000 ? 'met' : 'NOT met'}), peak RSS ${peak.toFixed(0)} MiB`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
