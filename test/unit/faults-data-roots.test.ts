/**
 * Path safety for datasets: a dataset.uri from a search config (anyone who can
 * start a workflow) is read only inside the worker's data roots, links
 * included; the operator's own dataset settings are trusted.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { allowedDataRoots, DEBIAN_DATASETS_DIR, isInsideRoots } from '../../domain/data/data-roots';
import { openDataset } from '../../domain/data/open-dataset';
import { tempDir, writeIdxSet } from './data-helpers';

function isForbidden(...patterns: RegExp[]): (err: unknown) => boolean {
  return (err: unknown) => {
    const e = err as Error & { failureType?: string };
    assert.equal(
      e.failureType,
      'ForbiddenPath',
      `expected ForbiddenPath, got ${e.failureType ?? e.name}: ${e.message}`,
    );
    for (const pattern of patterns) assert.match(e.message, pattern);
    return true;
  };
}

describe('dataset path safety', () => {
  const tmp = tempDir('data-roots');
  after(() => tmp.remove());
  const allowed = path.join(tmp.dir, 'allowed');
  const outside = path.join(tmp.dir, 'outside');
  mkdirSync(allowed);
  mkdirSync(outside);
  writeIdxSet(outside, { n: 6, m: 3, rows: 2, cols: 2, gzip: false });
  const inside = path.join(allowed, 'fashion');
  mkdirSync(inside);
  writeIdxSet(inside, { n: 6, m: 3, rows: 2, cols: 2, gzip: false });
  // Only `allowed` may be read from a config.
  const env = { WINNOW_DATA_ROOTS: allowed, WINNOW_STORAGE_ROOT: path.join(tmp.dir, 'artifacts') };
  const cacheDir = path.join(tmp.dir, 'cache');

  it('defaults to the Debian dataset folder, the OS temp folder and the file:// storage root', () => {
    const roots = allowedDataRoots({ WINNOW_STORAGE_ROOT: '/srv/winnow/artifacts' });
    assert.deepEqual(roots, [DEBIAN_DATASETS_DIR, path.resolve(os.tmpdir()), '/srv/winnow/artifacts']);
    assert.deepEqual(allowedDataRoots({ WINNOW_STORAGE_ROOT: 'gs://bucket/x' }), [
      DEBIAN_DATASETS_DIR,
      path.resolve(os.tmpdir()),
    ]);
    assert.deepEqual(allowedDataRoots({ WINNOW_DATA_ROOTS: '/data/a::/data/b', WINNOW_CIFAR10_DIR: '/opt/cifar' }), [
      '/data/a',
      '/data/b',
      '/opt/cifar',
    ]);
  });

  it('compares whole path segments', () => {
    assert.equal(isInsideRoots('/data/a/x', ['/data/a']), true);
    assert.equal(isInsideRoots('/data/a', ['/data/a']), true);
    assert.equal(isInsideRoots('/data/ab/x', ['/data/a']), false);
    assert.equal(isInsideRoots('/data', ['/data/a']), false);
  });

  it('opens a dataset inside a root', async () => {
    const dataset = await openDataset({ kind: 'fashion-mnist', uri: pathToFileURL(inside).href }, { env, cacheDir });
    assert.equal(dataset.info.samples.train, 6);
  });

  it('refuses a folder outside the roots, given as a path, a relative path or a file:// URI, before reading it', async () => {
    for (const uri of [
      outside,
      pathToFileURL(outside).href,
      path.relative(process.cwd(), outside),
      `${allowed}/../outside`,
      '/etc',
      '../../../../../../etc/passwd',
    ]) {
      await assert.rejects(
        openDataset({ kind: 'fashion-mnist', uri }, { env, cacheDir }),
        isForbidden(/^dataset\.uri /, /outside the folders this worker reads datasets from/, /WINNOW_DATA_ROOTS/),
        uri,
      );
    }
    await assert.rejects(
      openDataset({ kind: 'cifar10', uri: outside }, { env, cacheDir }),
      isForbidden(/dataset\.uri/),
    );
    await assert.rejects(
      openDataset({ kind: 'image-manifest', uri: '/etc' }, { env, cacheDir }),
      isForbidden(/dataset\.uri \/etc resolves to \/etc,/),
    );
  });

  it('follows symbolic links: a folder or a file inside a root that leads out of it is refused', async () => {
    const linkedDir = path.join(allowed, 'linked-dir');
    symlinkSync(outside, linkedDir);
    await assert.rejects(
      openDataset({ kind: 'mnist', uri: linkedDir }, { env, cacheDir }),
      isForbidden(/through a symbolic link, .*outside\)/),
    );

    const mixed = path.join(allowed, 'mixed');
    mkdirSync(mixed);
    writeIdxSet(mixed, { n: 6, m: 3, rows: 2, cols: 2, gzip: false });
    const labels = path.join(mixed, 'train-labels-idx1-ubyte');
    rmSync(labels);
    symlinkSync(path.join(outside, 'train-labels-idx1-ubyte'), labels);
    await assert.rejects(
      openDataset({ kind: 'mnist', uri: mixed }, { env, cacheDir }),
      isForbidden(
        /^dataset file .*mixed\/train-labels-idx1-ubyte resolves to .*through a symbolic link, .*outside\/train-labels-idx1-ubyte/,
      ),
    );
  });

  it('refuses image-manifest lines that point outside the roots, naming the line', async () => {
    const dir = path.join(allowed, 'images');
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, 'train.jsonl'),
      [
        { uri: 'a.png', label: 0 },
        { uri: '../../outside/secret.png', label: 1 },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n'),
    );
    await assert.rejects(
      openDataset({ kind: 'image-manifest', uri: dir }, { env, cacheDir }),
      isForbidden(
        /train\.jsonl: line 2: image \.\.\/\.\.\/outside\/secret\.png|train\.jsonl: line 2: image .*outside\/secret\.png resolves to/,
      ),
    );
  });

  it('trusts the folder the operator configured on the worker, even outside the roots', async () => {
    const dataset = await openDataset(
      { kind: 'fashion-mnist' },
      { env: { ...env, WINNOW_FASHION_MNIST_DIR: outside }, cacheDir },
    );
    assert.equal(dataset.info.samples.train, 6);
    // ...and a config may name that folder too.
    const named = await openDataset(
      { kind: 'fashion-mnist', uri: outside },
      { env: { ...env, WINNOW_FASHION_MNIST_DIR: outside }, cacheDir },
    );
    assert.equal(named.info.samples.test, 3);
  });
});
