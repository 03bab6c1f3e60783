/**
 * Random reads from an image folder: writes N 32x32 RGB PNGs in 10 class
 * folders (seeded), then reads them by shuffled index in batches through the
 * dataset interface, decoding every image, once as bytes and once as floats.
 * Prints decoded images/s and peak RSS. Target: >= 5,000 images/s on this machine.
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
    const pass = async (read: (indices: number[]) => Promise<unknown>): Promise<number> => {
      const start = performance.now();
      for (let at = 0; at < order.length; at += batch) await read(Array.from(order.subarray(at, at + batch)));
      return ds.info.samples.train / ((performance.now() - start) / 1000);
    };
    // Bytes: decoded and fitted pixels (what caches hold); floats: the same scaled to [0, 1] (what training reads).
    const bytes = await pass((indices) => ds.readIndicesBytes('train', indices));
    const floats = await pass((indices) => ds.readIndices('train', indices));
    const peak = rss.stop();
    console.log(machineLine());
    console.log(
      `${ds.info.samples.train} PNGs 32x32x3 in 10 class folders (written in ${(written / 1000).toFixed(1)} s)`,
    );
    console.log(
      `random reads, batches of ${batch}: ${bytes.toFixed(0)} decoded images/s as bytes (target >= 5,000: ${bytes >= 5000 ? 'met' : 'NOT met'}), ` +
        `${floats.toFixed(0)} images/s as floats; peak RSS ${peak.toFixed(0)} MiB`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
