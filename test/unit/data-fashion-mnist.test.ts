/**
 * Reads the real Fashion-MNIST that infra/install-tools.sh installs (Debian's
 * dataset-fashion-mnist), checking the reader against a few-line independent
 * parse of the raw files.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { FASHION_MNIST_DEFAULT_DIR, openDataset } from '../../domain/data/open-dataset';

const dir = process.env.WINNOW_FASHION_MNIST_DIR || FASHION_MNIST_DEFAULT_DIR;
const raw = (name: string) => {
  const file = path.join(dir, name);
  try {
    return gunzipSync(readFileSync(`${file}.gz`));
  } catch {
    return readFileSync(file);
  }
};

describe('Fashion-MNIST (real files)', () => {
  it('has 60000/10000 28x28x1 samples in 10 classes, read as the raw files say', async () => {
    const ds = await openDataset({ kind: 'fashion-mnist' });
    assert.deepEqual(ds.info.samples, { train: 60000, test: 10000 });
    assert.deepEqual(ds.info.shape, [28, 28, 1]);
    assert.equal(ds.info.numClasses, 10);

    const trainLabels = raw('train-labels-idx1-ubyte');
    const trainImages = raw('train-images-idx3-ubyte');
    assert.equal(trainLabels.readUInt32BE(4), 60000);
    const labels = await ds.readLabels('train');
    assert.equal(labels[0], trainLabels[8], 'first training label');
    assert.ok(labels.every((l) => l >= 0 && l < 10));
    assert.deepEqual(labels, Int32Array.from(trainLabels.subarray(8)));
    assert.ok((await ds.readLabels('test')).every((l) => l >= 0 && l < 10));

    const indices = [59999, 0, 31337, 12];
    const batch = await ds.readIndicesBytes('train', indices);
    indices.forEach((index, k) => {
      const offset = 16 + index * 784;
      assert.deepEqual(
        Buffer.from(batch.pixels.subarray(k * 784, (k + 1) * 784)),
        trainImages.subarray(offset, offset + 784),
      );
      assert.equal(batch.labels[k], trainLabels[8 + index]);
    });
    const floats = await ds.readRange('test', 9990, 10);
    assert.equal(floats.images.length, 10 * 784);
    assert.ok(floats.images.every((v) => v >= 0 && v <= 1));
  });

  it('fingerprint is the documented hash of the decompressed files', async () => {
    const sha = (name: string) => createHash('sha256').update(raw(name)).digest('hex');
    const expected = createHash('sha256')
      .update(
        JSON.stringify({
          format: 'idx',
          train: { images: sha('train-images-idx3-ubyte'), labels: sha('train-labels-idx1-ubyte') },
          test: { images: sha('t10k-images-idx3-ubyte'), labels: sha('t10k-labels-idx1-ubyte') },
        }),
      )
      .digest('hex');
    assert.equal(await (await openDataset({ kind: 'fashion-mnist' })).fingerprint(), expected);
  });
});
