/**
 * COCO detection folders: categories to contiguous indices in id order,
 * reads by range and index (order kept, duplicates allowed), letterboxing of
 * other-sized images with their boxes, fingerprints that follow every byte,
 * and an InvalidData error naming the file and record for every bad input.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openCocoDetectionDataset } from '../../domain/data/coco-detection';
import { openDetectionDataset } from '../../domain/data/open-detection-dataset';
import { fixturePixel, fixturePng, tinyCoco, writeCocoSplit, type CocoSplitFixture } from '../helpers/detection-sets';
import { isInvalidData, tempDir } from './data-helpers';

const temp = tempDir('coco');
after(() => temp.remove());
let n = 0;
const shape: [number, number, 1] = [8, 8, 1];

/** Writes a set from the tiny fixture after `edit` changes it; returns the folder. */
function writeSet(edit: (set: ReturnType<typeof tinyCoco>) => void = () => {}): string {
  const dir = path.join(temp.dir, `set-${n++}`);
  const set = tinyCoco();
  edit(set);
  writeCocoSplit(dir, 'train', set.train);
  writeCocoSplit(dir, 'test', set.test);
  return dir;
}

const unit = (v: number) => Math.fround(v / 255);

describe('COCO detection sets', () => {
  it('maps categories in id order, keeps image order, reads ranges and indices with their boxes', async () => {
    const dir = writeSet();
    const ds = await openCocoDetectionDataset(dir, { shape });
    assert.deepEqual(ds.info.classNames, ['ant', 'cat'], 'id 3 (ant) before id 7 (cat)');
    assert.equal(ds.info.numClasses, 2);
    assert.deepEqual(ds.info.samples, { train: 3, test: 1 });
    assert.deepEqual(ds.info.shape, [8, 8, 1]);
    assert.equal(ds.info.kind, 'coco');

    const range = await ds.readRange('train', 0, 3);
    assert.deepEqual([...range.imageIds], [10, 11, 12]);
    assert.deepEqual(range.objects, [
      [
        { x: 0, y: 0, w: 4, h: 4, category: 1 },
        { x: 4, y: 4, w: 4, h: 4, category: 0, crowd: true },
      ],
      [{ x: 1.5, y: 2, w: 6.5, h: 6, category: 0 }],
      [],
    ]);
    // Same-size images are a straight decode: every byte as written.
    for (const [k, id] of [10, 11, 12].entries()) {
      assert.equal(range.images[k * 64 + 0], unit(fixturePixel(id, 0, 0)));
      assert.equal(range.images[k * 64 + 3 * 8 + 5], unit(fixturePixel(id, 5, 3)));
    }

    const picked = await ds.readIndices('train', [2, 0, 2]);
    assert.equal(picked.count, 3);
    assert.deepEqual([...picked.imageIds], [12, 10, 12]);
    assert.deepEqual(picked.objects, [[], range.objects[0], []]);
    assert.notEqual(picked.objects[0], picked.objects[2], 'duplicates get their own arrays');
    assert.deepEqual(picked.images.subarray(0, 64), range.images.subarray(128, 192));
    assert.deepEqual(picked.images.subarray(64, 128), range.images.subarray(0, 64));
    assert.deepEqual(picked.images.subarray(128), range.images.subarray(128));

    const test = await ds.readAnnotations('test');
    assert.deepEqual(test, [{ imageId: 20, objects: [{ x: 2, y: 2, w: 3, h: 3, category: 1 }] }]);
    const annotations = await ds.readAnnotations('train');
    annotations[0].objects[0].x = 99;
    assert.equal((await ds.readAnnotations('train'))[0].objects[0].x, 0, 'callers get copies');
    assert.equal((await ds.readRange('train', 1, 0)).count, 0);

    await assert.rejects(
      ds.readIndices('train', [1, 3]),
      isInvalidData(/index 3 \(position 1 of the list\).*3 samples/),
    );
    await assert.rejects(ds.readRange('test', 0, 2), isInvalidData(/range \[0, 2\) is outside the test split/));
  });

  it('letterboxes images of another size and scales their boxes by the same factor', async () => {
    const dir = writeSet((set) => {
      set.train.images[0] = { id: 10, file_name: 'wide.png', width: 16, height: 8 };
      set.train.images[1] = { id: 11, file_name: 'tall.png', width: 4, height: 8 };
      set.train.annotations[0].bbox = [8, 2, 8, 4];
      set.train.annotations[1].bbox = [1, 0, 2, 8];
    });
    const ds = await openCocoDetectionDataset(dir, { shape });
    const batch = await ds.readRange('train', 0, 2);
    // 16x8 into 8x8: scale 1/2, rows 4..7 padding; 4x8 into 8x8: scale 1, columns 4..7 padding.
    assert.deepEqual(batch.objects[0], [
      { x: 4, y: 1, w: 4, h: 2, category: 1 },
      { x: 2, y: 2, w: 2, h: 2, category: 0, crowd: true },
    ]);
    assert.deepEqual(batch.objects[1], [{ x: 1, y: 0, w: 2, h: 8, category: 0 }]);
    const wide = batch.images.subarray(0, 64);
    assert.ok(
      wide.subarray(0, 32).every((v) => v > 0),
      'top half holds the scaled image',
    );
    assert.ok(
      wide.subarray(32).every((v) => v === 0),
      'bottom half is padding',
    );
    // Pixel centres at scale 1/2: output (x, y) samples source (2x + 0.5, 2y + 0.5), the mean of a 2x2 block.
    const block = (x: number, y: number) =>
      (fixturePixel(10, 2 * x, 2 * y) +
        fixturePixel(10, 2 * x + 1, 2 * y) +
        fixturePixel(10, 2 * x, 2 * y + 1) +
        fixturePixel(10, 2 * x + 1, 2 * y + 1)) /
      4;
    assert.ok(Math.abs(wide[1 * 8 + 2] * 255 - block(2, 1)) <= 0.5, `${wide[10] * 255} vs ${block(2, 1)}`);
    const tall = batch.images.subarray(64, 128);
    for (let y = 0; y < 8; y++) {
      assert.equal(tall[y * 8 + 3], unit(fixturePixel(11, 3, y)), 'scale 1 copies the pixels');
      assert.ok(
        tall.subarray(y * 8 + 4, y * 8 + 8).every((v) => v === 0),
        'right columns are padding',
      );
    }
    // At three channels every channel carries the grey value.
    const rgb = await openCocoDetectionDataset(dir, { shape: [8, 8, 3] });
    const third = await rgb.readRange('train', 2, 1);
    assert.deepEqual(
      [...third.images.subarray(0, 3)],
      [0, 1, 2].map(() => unit(fixturePixel(12, 0, 0))),
    );
  });

  it('fingerprints are stable, cached, and change with one flipped byte of an image or of the json', async () => {
    const dir = writeSet();
    const first = await openCocoDetectionDataset(dir, { shape });
    const hash = await first.fingerprint();
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(await first.fingerprint(), hash);
    assert.equal(await (await openCocoDetectionDataset(dir, { shape })).fingerprint(), hash);
    assert.notEqual(
      await (await openCocoDetectionDataset(dir, { shape: [8, 8, 3] })).fingerprint(),
      hash,
      'the input shape is part of what is read',
    );

    const image = path.join(dir, 'train', 'img-11.png');
    const bytes = readFileSync(image);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 20] ^= 0x01;
    writeFileSync(image, flipped);
    assert.notEqual(await (await openCocoDetectionDataset(dir, { shape })).fingerprint(), hash);
    writeFileSync(image, bytes);
    assert.equal(await (await openCocoDetectionDataset(dir, { shape })).fingerprint(), hash);

    const json = path.join(dir, 'instances_test.json');
    writeFileSync(json, readFileSync(json, 'utf8').replace('"bbox":[2,2,3,3]', '"bbox":[2,2,3,4]'));
    const edited = await openCocoDetectionDataset(dir, { shape });
    assert.equal((await edited.readAnnotations('test'))[0].objects[0].h, 4);
    assert.notEqual(await edited.fingerprint(), hash);
  });

  it('finds annotations/ and other split names, and opens through openDetectionDataset', async () => {
    const dir = path.join(temp.dir, `set-${n++}`);
    const set = tinyCoco();
    writeCocoSplit(dir, 'train2017', set.train);
    writeCocoSplit(dir, 'val2017', set.test);
    mkdirSync(path.join(dir, 'annotations'));
    renameSync(path.join(dir, 'instances_val2017.json'), path.join(dir, 'annotations', 'instances_val2017.json'));
    const ds = await openDetectionDataset({
      format: 'coco',
      dir: `file://${dir}`,
      shape: [8, 8, 1],
      splitNames: { train: 'train2017', test: 'val2017' },
    });
    assert.deepEqual(ds.info.samples, { train: 3, test: 1 });
    assert.deepEqual([...(await ds.readRange('test', 0, 1)).imageIds], [20]);
    await assert.rejects(
      openDetectionDataset({ format: 'coco', dir, shape: [8, 8, 2] } as never),
      (err: Error & { failureType?: string }) => err.failureType === 'InvalidConfig' && /shape\.2/.test(err.message),
    );
    await assert.rejects(
      openDetectionDataset({ format: 'coco', dir: '/etc', shape: [8, 8, 1] }),
      (err: Error & { failureType?: string }) => err.failureType === 'ForbiddenPath',
    );
  });
});

describe('COCO detection sets: bad records are InvalidData naming the file and the record', () => {
  const train = (dir: string) => path.join(dir, 'instances_train.json');
  const cases: Array<[string, (set: { train: CocoSplitFixture; test: CocoSplitFixture }) => void, RegExp]> = [
    [
      'a box past the image',
      (set) => (set.train.annotations[1] = { id: 42, image_id: 11, category_id: 3, bbox: [6, 0, 4, 4] }),
      /instances_train\.json: annotations\[1\] \(id 42\): bbox \[6, 0, 4, 4\] extends past image 11 \(8x8\)/,
    ],
    [
      'a box left of the image',
      (set) => (set.train.annotations[0].bbox = [-1, 0, 2, 2]),
      /annotations\[0\] \(id 1\): bbox \[-1, 0, 2, 2\] extends past image 10 \(8x8\)/,
    ],
    [
      'a box of zero width',
      (set) => (set.train.annotations[2].bbox = [1, 1, 0, 3]),
      /annotations\[2\] \(id 3\): bbox \[1, 1, 0, 3\] has non-positive size \(w 0, h 3\)/,
    ],
    [
      'a box of negative height',
      (set) => (set.train.annotations[2].bbox = [1, 4, 2, -3]),
      /annotations\[2\] \(id 3\): bbox \[1, 4, 2, -3\] has non-positive size/,
    ],
    [
      'an unknown category_id',
      (set) => (set.train.annotations[1].category_id = 5),
      /annotations\[1\] \(id 2\): category_id 5 is not in categories \(ids 3, 7\)/,
    ],
    [
      'an annotation of an unknown image',
      (set) => (set.train.annotations[2].image_id = 99),
      /annotations\[2\] \(id 3\): image_id 99 is not in images/,
    ],
    [
      'a duplicate image id',
      (set) => (set.train.images[2].id = 10),
      /instances_train\.json: images\[2\] \(id 10\): duplicate id 10 \(also images\[0\] \(id 10\)\)/,
    ],
    [
      'a duplicate annotation id',
      (set) => (set.train.annotations[2].id = 1),
      /annotations\[2\] \(id 1\): duplicate id 1 \(also annotations\[0\] \(id 1\)\)/,
    ],
    [
      'a duplicate category id',
      (set) => set.train.categories.push({ id: 7, name: 'dog' }),
      /categories\[2\] \(id 7\): duplicate id 7/,
    ],
    [
      'a bbox of three numbers',
      (set) => (set.train.annotations[1].bbox = [1, 2, 3]),
      /instances_train\.json: annotations\[1\] \(id 2\): bbox: /,
    ],
    [
      'an image without a width',
      (set) => delete (set.train.images[1] as Partial<CocoSplitFixture['images'][0]>).width,
      /instances_train\.json: images\[1\] \(id 11\): width: /,
    ],
    [
      'a file_name outside the image folder',
      (set) => (set.train.images[1].file_name = '../escape.png'),
      /images\[1\] \(id 11\): file_name "\.\.\/escape\.png" is outside the image folder/,
    ],
    [
      'test categories that differ from the training ones',
      (set) => (set.test.categories[0].name = 'lion'),
      /instances_test\.json: categories \(3 lion, 7 cat\) differ from those of .*instances_train\.json \(3 ant, 7 cat\)/,
    ],
  ];
  for (const [what, edit, message] of cases) {
    it(what, async () => {
      const dir = writeSet(edit);
      await assert.rejects(openCocoDetectionDataset(dir, { shape }), isInvalidData(message));
    });
  }

  it('a missing image file, when the set is opened, naming its path', async () => {
    const dir = writeSet();
    rmSync(path.join(dir, 'train', 'img-11.png'));
    await assert.rejects(
      openCocoDetectionDataset(dir, { shape }),
      isInvalidData(/instances_train\.json: images\[1\] \(id 11\): image file .*train\/img-11\.png not found/),
    );
  });

  it('an image whose decoded size is not the declared one, when it is read', async () => {
    const dir = writeSet();
    writeFileSync(path.join(dir, 'train', 'img-11.png'), fixturePng(11, 8, 6));
    const ds = await openCocoDetectionDataset(dir, { shape });
    assert.equal((await ds.readIndices('train', [0, 2])).count, 2, 'the other images read');
    await assert.rejects(
      ds.readIndices('train', [0, 1]),
      isInvalidData(
        /instances_train\.json: images\[1\] \(id 11\): image file .*img-11\.png decodes to 8x6, the annotations say 8x8/,
      ),
    );
  });

  it('an image that is not an image, a json that is not json, a missing json', async () => {
    const broken = writeSet();
    writeFileSync(path.join(broken, 'train', 'img-12.png'), 'text');
    const ds = await openCocoDetectionDataset(broken, { shape });
    await assert.rejects(ds.readRange('train', 2, 1), isInvalidData(/images\[2\] \(id 12\).*cannot be decoded/));
    const notJson = writeSet();
    writeFileSync(train(notJson), '{"images": [');
    await assert.rejects(
      openCocoDetectionDataset(notJson, { shape }),
      isInvalidData(/instances_train\.json: not valid JSON/),
    );
    const noTest = writeSet();
    rmSync(path.join(noTest, 'instances_test.json'));
    await assert.rejects(
      openCocoDetectionDataset(noTest, { shape }),
      isInvalidData(/instances_test\.json: file not found \(also tried .*annotations\/instances_test\.json\)/),
    );
  });
});
