/**
 * Dataset read throughput on Fashion-MNIST: random-index batches (as
 * training reads them) and sequential ranges (as scoring reads them).
 *   node dist/bench/data-read.js [--batches 300]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDataset } from '../domain/data/open-dataset';
import { createSyntheticDataset, seededUniform } from '../domain/data/synthetic';

const batchesArg = process.argv.indexOf('--batches');
const batches = batchesArg > 0 ? Number(process.argv[batchesArg + 1]) : 300;

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const seconds = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;
const rate = (samples: number, s: number) => `${Math.round(samples / s).toLocaleString('en-US')} samples/s`;

async function main(): Promise<void> {
  console.log(
    `machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}, load average ${load()}`,
  );
  const coldCache = mkdtempSync(path.join(os.tmpdir(), 'winnow-bench-cache-'));
  try {
    let t = process.hrtime.bigint();
    const cold = await openDataset({ kind: 'fashion-mnist' }, { cacheDir: coldCache });
    console.log(`open, cold cache (hash + gunzip 4 files): ${seconds(t).toFixed(2)} s`);
    t = process.hrtime.bigint();
    const ds = await openDataset({ kind: 'fashion-mnist' }, { cacheDir: coldCache });
    console.log(`open, warm cache (hash the .gz files): ${seconds(t).toFixed(2)} s`);
    t = process.hrtime.bigint();
    const fingerprint = await cold.fingerprint();
    console.log(`fingerprint (known from decompression): ${seconds(t).toFixed(3)} s ${fingerprint.slice(0, 16)}...`);

    const n = ds.info.samples.train;
    const random = seededUniform(42);
    for (const batchSize of [128, 1024]) {
      const lists = Array.from({ length: Math.max(1, Math.round((batches * 128) / batchSize)) }, () =>
        Int32Array.from({ length: batchSize }, () => Math.floor(random() * n)),
      );
      for (const [label, read] of [
        ['float32', (idx: Int32Array) => ds.readIndices('train', idx)],
        ['uint8  ', (idx: Int32Array) => ds.readIndicesBytes('train', idx)],
      ] as const) {
        await read(lists[0]); // warm the page cache and JIT
        t = process.hrtime.bigint();
        for (const list of lists) await read(list);
        const s = seconds(t);
        console.log(
          `random indices, batch ${String(batchSize).padStart(4)}, ${label}: ${rate(lists.length * batchSize, s)} (${lists.length} batches, ${s.toFixed(2)} s)`,
        );
      }
    }

    t = process.hrtime.bigint();
    for (let start = 0; start < n; start += 1024) await ds.readRange('train', start, Math.min(1024, n - start));
    console.log(`sequential ranges of 1024, float32: ${rate(n, seconds(t))}`);

    const synthetic = createSyntheticDataset({ height: 28, width: 28, channels: 1, trainSize: 20000 });
    t = process.hrtime.bigint();
    await synthetic.readRange('train', 0, 20000);
    console.log(`synthetic 28x28x1 generation, float32: ${rate(20000, seconds(t))}`);
  } finally {
    rmSync(coldCache, { recursive: true, force: true });
  }
  console.log(`load average at end: ${load()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
