/**
 * Image folders (torchvision ImageFolder / Keras image_dataset_from_directory
 * layout): classes from sorted folder names, train/ and test/ folders or a
 * stable split by fraction, shape from the first image or the config, reads by
 * index, fingerprints that follow the listing, and errors naming the file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openDataset } from '../../domain/data';
import { isTestFile, openImageFolderDataset } from '../../domain/data/image-folder';
import { classImage, writeClassFolders } from '../helpers/image-folders';
import { isInvalidData, tempDir } from './data-helpers';

const temp = tempDir('image-folder');
after(() => temp.remove());
let n = 0;
const fresh = () => path.join(temp.dir, `set-${n++}`);

describe('image folders', () => {
  it('train/ and test/ folders: sorted classes, labels by folder, shape of the first image', async () => {
    const dir = fresh();
    writeClassFolders(path.join(dir, 'train'), { classes: ['cat', 'ant', 'bee'], perClass: 3, side: 10 });
    writeClassFolders(path.join(dir, 'test'), { classes: ['bee', 'ant'], perClass: 2, side: 10, seed: 2 });
    writeFileSync(path.join(dir, 'train', 'ant', 'notes.txt'), 'not an image, skipped');
    const ds = await openImageFolderDataset(dir);
    assert.deepEqual(ds.info.classNames, ['ant', 'bee', 'cat']);
    assert.deepEqual(ds.info.samples, { train: 9, test: 4 });
    assert.deepEqual(ds.info.shape, [10, 10, 1], 'grey PNGs give one channel');
    const labels = await ds.readLabels('train');
    assert.deepEqual([...labels], [0, 0, 0, 1, 1, 1, 2, 2, 2]);
    assert.deepEqual([...(await ds.readLabels('test'))], [0, 0, 1, 1], 'test labels follow the training classes');
    const picked = await ds.readIndices('train', [8, 0]);
    assert.equal(picked.count, 2);
    assert.deepEqual([...picked.labels], [2, 0]);
    // The bar of class "cat" (k = 0 of the writer's order cat, ant, bee) lies in the top rows.
    assert.ok(picked.images[0] > 0.6 && picked.images[99] < 0.4, 'pixels of the right image, scaled to [0, 1]');
  });

  it('one folder split by fraction: stable per file, about the fraction, config shape and channels', async () => {
    const dir = writeClassFolders(fresh(), { classes: ['a', 'b'], perClass: 40, side: 8, grey: false });
    const ds = await openDataset({
      kind: 'image-folder',
      uri: dir,
      testFraction: 0.25,
      image: { height: 6, width: 6, channels: 3 },
    });
    assert.deepEqual(ds.info.shape, [6, 6, 3]);
    assert.equal(ds.info.samples.train + ds.info.samples.test, 80);
    assert.ok(
      ds.info.samples.test >= 10 && ds.info.samples.test <= 30,
      `${ds.info.samples.test} of 80 held out at 0.25`,
    );
    const before = await ds.fingerprint();
    // A new image changes the listing (and the fingerprint) but moves no other file between splits.
    const testBefore = ds.info.samples.test;
    writeFileSync(
      path.join(dir, 'a', 'zzzz.png'),
      classImage(0, 2, 8, false, () => 0.5),
    );
    const grown = await openImageFolderDataset(dir, { testFraction: 0.25 });
    assert.equal(grown.info.samples.test - testBefore, isTestFile(path.join('a', 'zzzz.png'), 0.25) ? 1 : 0);
    assert.notEqual(await grown.fingerprint(), before);
    assert.equal(
      await (await openImageFolderDataset(dir, { testFraction: 0.25 })).fingerprint(),
      await grown.fingerprint(),
    );
    assert.deepEqual(ds.info.classNames, ['a', 'b']);
  });

  it('bad folders get errors that name what is wrong', async () => {
    const empty = fresh();
    mkdirSync(empty);
    await assert.rejects(openImageFolderDataset(empty), isInvalidData(/no class folders/));
    const emptyClass = writeClassFolders(fresh(), { classes: ['a'], perClass: 2, side: 4 });
    mkdirSync(path.join(emptyClass, 'b'));
    await assert.rejects(openImageFolderDataset(emptyClass), isInvalidData(/class folder b holds no \.png/));
    const split = fresh();
    writeClassFolders(path.join(split, 'train'), { classes: ['a', 'b'], perClass: 2, side: 4 });
    writeClassFolders(path.join(split, 'test'), { classes: ['c'], perClass: 1, side: 4 });
    await assert.rejects(openImageFolderDataset(split), isInvalidData(/class folder c not in .*train/));
    renameSync(path.join(split, 'test', 'c'), path.join(split, 'test', 'a'));
    await assert.rejects(
      openImageFolderDataset(split, { testFraction: 0.2 }),
      isInvalidData(/testFraction does not apply/),
    );
    const broken = writeClassFolders(fresh(), { classes: ['a', 'b'], perClass: 2, side: 4 });
    writeFileSync(path.join(broken, 'b', '0001.png'), 'text, not a PNG');
    const ds = await openImageFolderDataset(broken, { testFraction: 0, height: 4, width: 4, channels: 1 });
    await assert.rejects(
      ds.readIndices('train', [3]),
      isInvalidData(/image .*b\/0001\.png \(15 bytes\) cannot be decoded: neither PNG nor JPEG.*remove the file/),
    );
    await assert.rejects(openImageFolderDataset(path.join(temp.dir, 'missing')), isInvalidData(/file not found/));
  });

  it('the config refuses image options on kinds that have a fixed shape', async () => {
    await assert.rejects(
      openDataset({ kind: 'synthetic', uri: 'synthetic:?seed=1', size: 10, testFraction: 0.2 } as never),
      /testFraction is only for image folders/,
    );
  });
});
