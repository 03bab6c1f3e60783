import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openIdxDataset, parseIdxHeader, type IdxOptions } from '../../domain/data/idx';
import { idxBytes, isInvalidData, pixelOf, tempDir, writeIdxSet, writeMaybeGzipped } from './data-helpers';

const N = 50;
const M = 12;
const ROWS = 4;
const COLS = 3;

describe('IDX datasets', () => {
  const tmp = tempDir('idx');
  const cacheDir = path.join(tmp.dir, 'cache');
  const options = (): IdxOptions => ({
    kind: 'mnist',
    name: 'tiny',
    numClasses: 10,
    cacheDir,
    hint: 'fix the test data',
  });
  let counter = 0;
  const freshDir = () => {
    const dir = path.join(tmp.dir, `set-${counter++}`);
    mkdirSync(dir);
    return dir;
  };
  after(() => tmp.remove());

  for (const gzip of [false, true]) {
    describe(gzip ? 'gzipped' : 'plain', () => {
      let dir: string;
      before(() => {
        dir = freshDir();
        writeIdxSet(dir, { n: N, m: M, rows: ROWS, cols: COLS, gzip });
      });

      it('reads the header into info', async () => {
        const ds = await openIdxDataset(dir, options());
        assert.deepEqual(ds.info.samples, { train: N, test: M });
        assert.deepEqual(ds.info.shape, [ROWS, COLS, 1]);
        assert.equal(ds.info.numClasses, 10);
      });

      it('reads a range: bytes as written, floats scaled to [0, 1]', async () => {
        const ds = await openIdxDataset(dir, options());
        const bytes = await ds.readRangeBytes('train', 10, 5);
        const floats = await ds.readRange('train', 10, 5);
        assert.equal(bytes.count, 5);
        assert.equal(floats.images.length, 5 * ROWS * COLS);
        for (let k = 0; k < 5; k++) {
          assert.equal(bytes.labels[k], ((10 + k) * 7) % 10);
          for (let p = 0; p < ROWS * COLS; p++) {
            const expected = pixelOf(10 + k, p);
            assert.equal(bytes.pixels[k * ROWS * COLS + p], expected);
            assert.ok(Math.abs(floats.images[k * ROWS * COLS + p] - expected / 255) < 1e-7);
          }
        }
        assert.deepEqual(floats.labels, bytes.labels);
        const test = await ds.readRangeBytes('test', M - 1, 1);
        assert.equal(test.pixels[0], pixelOf(1000 + M - 1, 0));
        assert.equal((await ds.readRange('train', N, 0)).count, 0);
      });

      it('reads indices in the order given, duplicates included, the same as single range reads', async () => {
        const ds = await openIdxDataset(dir, options());
        const indices = [49, 0, 3, 4, 5, 3, 17, 48];
        const batch = await ds.readIndices('train', indices);
        assert.equal(batch.count, indices.length);
        for (let k = 0; k < indices.length; k++) {
          const single = await ds.readRange('train', indices[k], 1);
          assert.deepEqual(batch.images.subarray(k * ROWS * COLS, (k + 1) * ROWS * COLS), single.images);
          assert.equal(batch.labels[k], single.labels[0]);
        }
        assert.equal((await ds.readIndices('train', [])).count, 0);
      });

      it('refuses out-of-range reads with InvalidData', async () => {
        const ds = await openIdxDataset(dir, options());
        await assert.rejects(
          ds.readRange('train', N - 2, 3),
          isInvalidData(/range \[48, 51\)/, /train split of 50 samples/),
        );
        await assert.rejects(ds.readIndices('test', [0, M]), isInvalidData(/index 12 \(position 1/));
        await assert.rejects(ds.readIndices('test', [1.5]), isInvalidData(/index 1.5/));
      });

      it('returns all labels', async () => {
        const ds = await openIdxDataset(dir, options());
        assert.deepEqual(
          Array.from(await ds.readLabels('train')),
          Array.from({ length: N }, (_, i) => (i * 7) % 10),
        );
      });
    });
  }

  it('fingerprints: stable across opens, equal for gzipped and plain copies, changed by one byte', async () => {
    const plain = freshDir();
    const zipped = freshDir();
    writeIdxSet(plain, { n: N, m: M, rows: ROWS, cols: COLS, gzip: false });
    writeIdxSet(zipped, { n: N, m: M, rows: ROWS, cols: COLS, gzip: true });
    const a = await (await openIdxDataset(plain, options())).fingerprint();
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.equal(await (await openIdxDataset(plain, options())).fingerprint(), a);
    assert.equal(await (await openIdxDataset(zipped, options())).fingerprint(), a);

    const file = path.join(plain, 't10k-images-idx3-ubyte');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(file, bytes);
    assert.notEqual(await (await openIdxDataset(plain, options())).fingerprint(), a);
  });

  it('decompresses a .gz once into the cache, keyed by the compressed bytes', async () => {
    const dir = freshDir();
    const ownCache = path.join(tmp.dir, 'own-cache');
    writeIdxSet(dir, { n: N, m: M, rows: ROWS, cols: COLS, gzip: true });
    await openIdxDataset(dir, { ...options(), cacheDir: ownCache });
    const entries = readdirSync(ownCache).sort();
    assert.equal(entries.filter((e) => e.endsWith('.raw')).length, 4);
    assert.ok(entries.every((e) => !e.includes('.tmp-')));
    const raw = entries.find((e) => e.endsWith('.raw'))!;
    const before = statSync(path.join(ownCache, raw)).mtimeMs;
    await openIdxDataset(dir, { ...options(), cacheDir: ownCache });
    assert.equal(statSync(path.join(ownCache, raw)).mtimeMs, before, 'a cached copy is reused, not rewritten');

    // A damaged cache entry (wrong size) is rebuilt rather than trusted.
    truncateSync(path.join(ownCache, raw), 3);
    const ds = await openIdxDataset(dir, { ...options(), cacheDir: ownCache });
    assert.equal((await ds.readRangeBytes('train', 0, 1)).pixels[0], pixelOf(0, 0));
  });

  describe('corrupt files', () => {
    const images = (n: number, rows = ROWS, cols = COLS) =>
      idxBytes(2051, [n, rows, cols], new Uint8Array(n * rows * cols));
    const labels = (values: number[]) => idxBytes(2049, [values.length], Uint8Array.from(values));
    /** A valid set with one file replaced. */
    const setWith = (name: string, bytes: Buffer, gzip = false) => {
      const dir = freshDir();
      writeIdxSet(dir, { n: N, m: M, rows: ROWS, cols: COLS, gzip: false });
      rmSync(path.join(dir, name));
      writeMaybeGzipped(path.join(dir, name), bytes, gzip);
      return dir;
    };

    it('missing file', async () => {
      const dir = setWith('t10k-labels-idx1-ubyte', labels([1]));
      rmSync(path.join(dir, 't10k-labels-idx1-ubyte'));
      await assert.rejects(
        openIdxDataset(dir, options()),
        isInvalidData(/t10k-labels-idx1-ubyte: file not found/, /also tried/, /fix the test data/),
      );
    });

    it('truncated images file names the offset where it ends', async () => {
      const bytes = images(N).subarray(0, 16 + N * ROWS * COLS - 5);
      const dir = setWith('train-images-idx3-ubyte', bytes);
      await assert.rejects(
        openIdxDataset(dir, options()),
        isInvalidData(
          /train-images-idx3-ubyte/,
          /truncated/,
          new RegExp(`${16 + N * ROWS * COLS} bytes in all`),
          new RegExp(`ends at byte offset ${bytes.length}`),
        ),
      );
    });

    it('file shorter than its header', async () => {
      const dir = setWith('train-labels-idx1-ubyte', Buffer.from([0, 0, 8, 1, 0]));
      await assert.rejects(
        openIdxDataset(dir, options()),
        isInvalidData(/train-labels-idx1-ubyte: only 5 bytes, shorter than the 8-byte IDX header/),
      );
    });

    it('trailing bytes after the declared data', async () => {
      const dir = setWith('train-labels-idx1-ubyte', Buffer.concat([labels(Array(N).fill(1)), Buffer.from([1, 2])]));
      await assert.rejects(openIdxDataset(dir, options()), isInvalidData(/2 unexpected bytes after byte offset 58/));
    });

    it('truncated gzip stream', async () => {
      const dir = freshDir();
      writeIdxSet(dir, { n: N, m: M, rows: ROWS, cols: COLS, gzip: true });
      const file = path.join(dir, 'train-images-idx3-ubyte.gz');
      const zipped = readFileSync(file);
      writeFileSync(file, zipped.subarray(0, zipped.length - 20));
      await assert.rejects(
        openIdxDataset(dir, options()),
        isInvalidData(/train-images-idx3-ubyte\.gz: gzip data is truncated or corrupt/),
      );
      assert.ok(
        readdirSync(cacheDir).every((e) => !e.includes('.tmp-')),
        'no temp file left behind',
      );
    });

    it('wrong magic (labels file where images belong)', async () => {
      const dir = setWith('train-images-idx3-ubyte', labels(Array(N).fill(0)), true);
      await assert.rejects(
        openIdxDataset(dir, options()),
        isInvalidData(
          /train-images-idx3-ubyte\.gz \(decompressed copy .*\): byte offset 0 holds magic number 2049 \(0x00000801\), expected 2051/,
        ),
      );
    });

    it('label count differs from image count', async () => {
      const dir = setWith('train-labels-idx1-ubyte', labels(Array(N - 1).fill(0)));
      await assert.rejects(
        openIdxDataset(dir, options()),
        isInvalidData(/train-labels-idx1-ubyte: 49 labels .* holds 50 images/),
      );
    });

    it('out-of-range label names its byte offset and sample', async () => {
      const values = Array(N).fill(3);
      values[7] = 10;
      const dir = setWith('train-labels-idx1-ubyte', labels(values));
      await assert.rejects(
        openIdxDataset(dir, options()),
        isInvalidData(/label 10 at byte offset 15 \(sample 7\) is out of range 0-9/),
      );
    });

    it('splits with different image sizes', async () => {
      const dir = setWith('t10k-images-idx3-ubyte', images(M, ROWS + 1, COLS));
      await assert.rejects(openIdxDataset(dir, options()), isInvalidData(/5x3 but .* has 4x3/));
    });

    it('a file that shrinks after opening fails the read with the offset', async () => {
      const dir = freshDir();
      writeIdxSet(dir, { n: N, m: M, rows: ROWS, cols: COLS, gzip: false });
      const ds = await openIdxDataset(dir, options());
      truncateSync(path.join(dir, 'train-images-idx3-ubyte'), 16 + 10 * ROWS * COLS);
      await assert.rejects(
        ds.readRange('train', 8, 5),
        isInvalidData(/ended at byte offset 136 while 36 more bytes were expected/),
      );
    });
  });

  it('parseIdxHeader accepts exactly the declared length', () => {
    const bytes = idxBytes(2051, [2, 2, 2], new Uint8Array(8));
    assert.deepEqual(parseIdxHeader(bytes, bytes.length, 2051, 'x'), { magic: 2051, dims: [2, 2, 2], headerBytes: 16 });
    assert.throws(() => parseIdxHeader(bytes, bytes.length - 1, 2051, 'x'), isInvalidData(/truncated/));
    assert.throws(
      () => parseIdxHeader(idxBytes(2051, [2, 0, 2], new Uint8Array(0)), 16, 2051, 'x'),
      isInvalidData(/dimension 1 at byte offset 8 is 0/),
    );
  });
});
