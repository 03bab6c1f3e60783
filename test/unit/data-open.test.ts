import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { openDataset, syntheticSpecFromUri } from '../../domain/data/open-dataset';
import type { SyntheticDataset } from '../../domain/data/synthetic';
import { isInvalidData, tempDir, writeIdxSet } from './data-helpers';

const isInvalidConfig =
  (...patterns: RegExp[]) =>
  (err: unknown) => {
    const e = err as Error & { failureType?: string };
    assert.equal(e.failureType, 'InvalidConfig', e.message);
    for (const pattern of patterns) assert.match(e.message, pattern);
    return true;
  };

describe('openDataset', () => {
  const tmp = tempDir('open');
  const cacheDir = path.join(tmp.dir, 'cache');
  const idxDir = path.join(tmp.dir, 'idx');
  mkdirSync(idxDir);
  writeIdxSet(idxDir, { n: 9, m: 4, rows: 2, cols: 2, gzip: true });
  after(() => tmp.remove());

  it('finds Fashion-MNIST through WINNOW_FASHION_MNIST_DIR; dataset.uri (path or file://) wins over it', async () => {
    const viaEnv = await openDataset(
      { kind: 'fashion-mnist' },
      { env: { WINNOW_FASHION_MNIST_DIR: idxDir }, cacheDir },
    );
    assert.deepEqual(viaEnv.info.samples, { train: 9, test: 4 });
    assert.equal(viaEnv.info.classNames?.[9], 'Ankle boot');
    const viaUri = await openDataset(
      { kind: 'fashion-mnist', uri: pathToFileURL(idxDir).href },
      { env: { WINNOW_FASHION_MNIST_DIR: '/nonexistent' }, cacheDir },
    );
    assert.equal(viaUri.info.samples.train, 9);
    const mnist = await openDataset({ kind: 'mnist' }, { env: { WINNOW_MNIST_DIR: idxDir }, cacheDir });
    assert.equal(mnist.info.kind, 'mnist');
    assert.equal(await mnist.fingerprint(), await viaEnv.fingerprint(), 'same bytes, same fingerprint');
  });

  it('says where it looked when the data is missing', async () => {
    await assert.rejects(
      openDataset(
        { kind: 'fashion-mnist' },
        { env: { WINNOW_FASHION_MNIST_DIR: path.join(tmp.dir, 'nowhere') }, cacheDir },
      ),
      isInvalidData(
        /nowhere\/train-images-idx3-ubyte: file not found/,
        /check WINNOW_FASHION_MNIST_DIR/,
        /dataset-fashion-mnist/,
      ),
    );
  });

  it('refuses configs it cannot serve with InvalidConfig', async () => {
    await assert.rejects(
      openDataset({ kind: 'mnist' }, { env: {} }),
      isInvalidConfig(/dataset\.uri: required for mnist \(or set WINNOW_MNIST_DIR/),
    );
    await assert.rejects(
      openDataset({ kind: 'image-manifest' }, { env: {} }),
      isInvalidConfig(/dataset\.uri: required for image-manifest$/),
    );
    await assert.rejects(
      openDataset({ kind: 'cifar10', uri: 'gs://bucket/cifar' }),
      isInvalidConfig(/only local paths and file:\/\//),
    );
    await assert.rejects(
      openDataset({ kind: 'cifar100', uri: '/x', size: 10 }),
      isInvalidConfig(/dataset\.size is only for synthetic sets/),
    );
  });

  it('dataset.limit / testLimit keep the first N samples with the same indices and a fingerprint of their own', async () => {
    const whole = await openDataset({ kind: 'fashion-mnist', uri: idxDir }, { cacheDir });
    const cut = await openDataset({ kind: 'fashion-mnist', uri: idxDir, limit: 5, testLimit: 3 }, { cacheDir });
    assert.deepEqual(cut.info.samples, { train: 5, test: 3 });
    assert.match(cut.info.name, /first 5 train, 3 test/);
    assert.deepEqual(await cut.readLabels('train'), (await whole.readLabels('train')).slice(0, 5));
    assert.deepEqual(await cut.readLabels('test'), (await whole.readLabels('test')).slice(0, 3));
    assert.deepEqual(await cut.readIndicesBytes('train', [4, 0, 2]), await whole.readIndicesBytes('train', [4, 0, 2]));
    assert.deepEqual(await cut.readRange('test', 1, 2), await whole.readRange('test', 1, 2));
    assert.notEqual(await cut.fingerprint(), await whole.fingerprint(), 'a cut set is not the whole set');
    const trainOnly = await openDataset({ kind: 'fashion-mnist', uri: idxDir, limit: 5 }, { cacheDir });
    assert.deepEqual(trainOnly.info.samples, { train: 5, test: 4 });
    assert.notEqual(await trainOnly.fingerprint(), await cut.fingerprint(), 'the fingerprint covers each limit');
    const again = await openDataset({ kind: 'fashion-mnist', uri: idxDir, limit: 5, testLimit: 3 }, { cacheDir });
    assert.equal(await again.fingerprint(), await cut.fingerprint(), 'stable');
    // Past the limit is outside the set, even though the file has the sample.
    await assert.rejects(
      cut.readIndices('train', [1, 5]),
      isInvalidData(/index 5 \(position 1 of the list\) is outside the train split of 5 samples \(dataset\.limit\)/),
    );
    await assert.rejects(
      cut.readRangeBytes('test', 2, 2),
      isInvalidData(/range \[2, 4\) is outside the test split of 3 samples \(dataset\.testLimit\)/),
    );
    const synthetic = await openDataset({ kind: 'synthetic', uri: 'synthetic:?test=30', size: 40, limit: 10 });
    assert.deepEqual(synthetic.info.samples, { train: 10, test: 30 });
  });

  it('refuses a limit above the set size, naming the field and the size', async () => {
    await assert.rejects(
      openDataset({ kind: 'fashion-mnist', uri: idxDir, limit: 10 }, { cacheDir }),
      isInvalidConfig(/dataset\.limit: 10 is more than the 9 train samples of fashion-mnist/),
    );
    await assert.rejects(
      openDataset({ kind: 'fashion-mnist', uri: idxDir, testLimit: 5 }, { cacheDir }),
      isInvalidConfig(/dataset\.testLimit: 5 is more than the 4 test samples/),
    );
  });

  it('builds synthetic sets from uri parameters and size', async () => {
    const ds = (await openDataset({
      kind: 'synthetic',
      uri: 'synthetic:?seed=4&shape=28x28x1&classes=3&test=20&noise=0.5&duplicates=0.1&mislabeled=0.2',
      size: 50,
    })) as SyntheticDataset;
    assert.deepEqual(ds.info.samples, { train: 50, test: 20 });
    assert.deepEqual(ds.info.shape, [28, 28, 1]);
    assert.equal(ds.info.numClasses, 3);
    assert.deepEqual(
      { seed: ds.spec.seed, noise: ds.spec.noise, d: ds.spec.duplicateFraction, m: ds.spec.mislabelFraction },
      { seed: 4, noise: 0.5, d: 0.1, m: 0.2 },
    );
    assert.equal(Array.from(ds.groundTruth.mislabeled).filter(Boolean).length, 10);
    const plain = await openDataset({ kind: 'synthetic' });
    assert.deepEqual(plain.info.shape, [8, 8, 1]);
    assert.equal(syntheticSpecFromUri('synthetic://?seed=9', undefined).seed, 9);
  });

  it('rejects bad synthetic parameters naming them', () => {
    assert.throws(
      () => syntheticSpecFromUri('synthetic:?colour=1', undefined),
      isInvalidConfig(/unknown synthetic parameter "colour"/),
    );
    assert.throws(
      () => syntheticSpecFromUri('synthetic:?shape=28x28', undefined),
      isInvalidConfig(/shape=28x28: expected HxWxC/),
    );
    assert.throws(
      () => syntheticSpecFromUri('synthetic:?mislabeled=2', undefined),
      isInvalidConfig(/mislabelFraction/),
    );
    assert.throws(() => syntheticSpecFromUri('synthetic:?seed=abc', undefined), isInvalidConfig(/seed/));
    assert.throws(() => syntheticSpecFromUri('/data/x', undefined), isInvalidConfig(/synthetic:\?seed=1/));
  });
});
