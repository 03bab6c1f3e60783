/**
 * The quick profile's smaller pool: the first N training (and test) samples
 * of Fashion-MNIST, written as plain IDX files that the `fashion-mnist`
 * dataset kind reads through `dataset.uri`. The config cannot shrink a
 * file-backed dataset (dataset.size is for synthetic sets only), so the bench
 * prepares the data instead.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

const files = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

function readIdx(dir: string, name: string): Buffer {
  const plain = path.join(dir, name);
  if (existsSync(plain)) return readFileSync(plain);
  const gz = `${plain}.gz`;
  if (existsSync(gz)) return gunzipSync(readFileSync(gz));
  throw new Error(
    `${plain}(.gz): not found; install Debian's dataset-fashion-mnist (npm run tools) or set WINNOW_FASHION_MNIST_DIR`,
  );
}

/** The first `count` records of an IDX file (header rewritten). Pure. */
export function idxPrefix(idx: Buffer, count: number): Buffer {
  const ndims = idx[3];
  const headerBytes = 4 + 4 * ndims;
  const total = idx.readUInt32BE(4);
  if (!Number.isInteger(count) || count < 1 || count > total)
    throw new Error(`cannot take ${count} records of an IDX file holding ${total}`);
  let recordBytes = 1;
  for (let d = 1; d < ndims; d++) recordBytes *= idx.readUInt32BE(4 + 4 * d);
  const out = Buffer.alloc(headerBytes + count * recordBytes);
  idx.copy(out, 0, 0, headerBytes);
  out.writeUInt32BE(count, 4);
  idx.copy(out, headerBytes, headerBytes, headerBytes + count * recordBytes);
  return out;
}

/** Writes the prefix set into `outDir` unless it is already there; returns `outDir`. */
export function prepareFashionMnistPrefix(
  sourceDir: string,
  outDir: string,
  trainCount: number,
  testCount: number,
): string {
  mkdirSync(outDir, { recursive: true });
  for (const [split, count] of [
    ['train', trainCount],
    ['test', testCount],
  ] as const) {
    for (const name of Object.values(files[split])) {
      const target = path.join(outDir, name);
      if (existsSync(target)) continue;
      const tmp = `${target}.tmp-${process.pid}`;
      writeFileSync(tmp, idxPrefix(readIdx(sourceDir, name), count));
      renameSync(tmp, target);
    }
  }
  return outDir;
}
