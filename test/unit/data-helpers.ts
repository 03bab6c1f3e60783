/** Writers for tiny data files in the formats the dataset layer reads, written independently of its parsers. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `winnow-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An IDX file: magic (big-endian), dims, then the bytes. */
export function idxBytes(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

export function writeMaybeGzipped(file: string, bytes: Buffer, gzip: boolean): string {
  const target = gzip ? `${file}.gz` : file;
  writeFileSync(target, gzip ? gzipSync(bytes) : bytes);
  return target;
}

/** Pixel value of sample i at byte p, distinct enough to catch misplaced reads. */
export function pixelOf(i: number, p: number): number {
  return (i * 31 + p * 7 + 3) % 256;
}

export interface TinyIdxSet {
  dir: string;
  train: { images: Uint8Array; labels: Uint8Array };
  test: { images: Uint8Array; labels: Uint8Array };
  rows: number;
  cols: number;
}

/** Writes train (n) and t10k (m) IDX pairs of rows x cols images into dir. */
export function writeIdxSet(
  dir: string,
  opts: { n: number; m: number; rows: number; cols: number; gzip: boolean },
): TinyIdxSet {
  const make = (count: number, offset: number) => {
    const images = new Uint8Array(count * opts.rows * opts.cols);
    for (let i = 0; i < count; i++) {
      for (let p = 0; p < opts.rows * opts.cols; p++) images[i * opts.rows * opts.cols + p] = pixelOf(i + offset, p);
    }
    const labels = Uint8Array.from({ length: count }, (_, i) => (i * 7 + offset) % 10);
    return { images, labels };
  };
  const train = make(opts.n, 0);
  const test = make(opts.m, 1000);
  for (const [prefix, part] of [
    ['train', train],
    ['t10k', test],
  ] as const) {
    writeMaybeGzipped(
      path.join(dir, `${prefix}-images-idx3-ubyte`),
      idxBytes(2051, [part.labels.length, opts.rows, opts.cols], part.images),
      opts.gzip,
    );
    writeMaybeGzipped(
      path.join(dir, `${prefix}-labels-idx1-ubyte`),
      idxBytes(2049, [part.labels.length], part.labels),
      opts.gzip,
    );
  }
  return { dir, train, test, rows: opts.rows, cols: opts.cols };
}

/** Asserts that `fn` rejects with an InvalidData failure whose message matches every pattern. */
export function isInvalidData(...patterns: RegExp[]): (err: unknown) => boolean {
  return (err: unknown) => {
    const e = err as Error & { failureType?: string };
    if (e.failureType !== 'InvalidData')
      throw new Error(`expected InvalidData, got ${e.failureType ?? e.name}: ${e.message}`);
    for (const pattern of patterns) {
      if (!pattern.test(e.message)) throw new Error(`message does not match ${pattern}: ${e.message}`);
    }
    return true;
  };
}
