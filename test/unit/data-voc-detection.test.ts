/**
 * Pascal VOC detection folders: split lists, 1-based inclusive boxes turned
 * into COCO [x, y, w, h], difficult objects as crowd, classes sorted from the
 * training split or given, the small XML parser, and InvalidData naming the
 * file and the object for every bad input.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openDetectionDataset } from '../../domain/data/open-detection-dataset';
import { openVocDetectionDataset, parseXml } from '../../domain/data/voc-detection';
import { vocXml, writeVocSet, type VocImage } from '../helpers/detection-sets';
import { isInvalidData, tempDir } from './data-helpers';

const temp = tempDir('voc');
after(() => temp.remove());
let n = 0;
const shape: [number, number, 3] = [10, 10, 3];

function tinyVoc(): Record<string, VocImage[]> {
  return {
    train: [
      {
        id: '2008_000001',
        width: 10,
        height: 10,
        objects: [
          { name: 'dog', box: [1, 1, 4, 5] },
          { name: 'cat', box: [5, 2, 10, 10], difficult: true },
        ],
      },
      { id: '2008_000002', width: 20, height: 10, objects: [{ name: 'dog', box: [11, 1, 20, 10] }] },
    ],
    test: [{ id: '2009_000001', width: 10, height: 10, objects: [{ name: 'cat', box: [3, 3, 3, 3] }] }],
  };
}

function writeSet(edit: (set: Record<string, VocImage[]>) => void = () => {}): string {
  const dir = path.join(temp.dir, `set-${n++}`);
  const set = tinyVoc();
  edit(set);
  writeVocSet(dir, set);
  return dir;
}

describe('VOC detection sets', () => {
  it('reads split lists, converts boxes, marks difficult objects crowd, letterboxes other sizes', async () => {
    const dir = writeSet();
    const ds = await openVocDetectionDataset(dir, { shape });
    assert.deepEqual(ds.info.classNames, ['cat', 'dog']);
    assert.deepEqual(ds.info.samples, { train: 2, test: 1 });
    assert.equal(ds.info.kind, 'voc');
    const batch = await ds.readIndices('train', [1, 0]);
    assert.deepEqual([...batch.imageIds], [1, 0], 'ids are positions in the split list');
    assert.deepEqual(batch.objects, [
      // 20x10 into 10x10: scale 1/2; xmin 11..xmax 20 is x 10, w 10 before scaling.
      [{ x: 5, y: 0, w: 5, h: 5, category: 1 }],
      [
        { x: 0, y: 0, w: 4, h: 5, category: 1 },
        { x: 4, y: 1, w: 6, h: 9, category: 0, crowd: true },
      ],
    ]);
    assert.ok(
      batch.images.subarray(5 * 30, 10 * 30).every((v) => v === 0),
      'bottom half of the wide image is padding',
    );
    assert.ok(
      batch.images.subarray(300).every((v) => v > 0),
      'the same-size image fills the input',
    );
    assert.deepEqual(await ds.readAnnotations('test'), [
      { imageId: 0, objects: [{ x: 2, y: 2, w: 1, h: 1, category: 0 }] },
    ]);

    const named = await openDetectionDataset({
      format: 'voc',
      dir,
      shape: [10, 10, 3],
      classNames: ['dog', 'cat', 'bird'],
    });
    assert.equal(named.info.numClasses, 3);
    assert.equal((await named.readAnnotations('train'))[0].objects[0].category, 0, 'dog is class 0 when listed first');

    const hash = await ds.fingerprint();
    writeFileSync(
      path.join(dir, 'Annotations', '2009_000001.xml'),
      vocXml('2009_000001.jpg', 10, 10, [{ name: 'cat', box: [3, 3, 4, 3] }]),
    );
    assert.notEqual(await (await openVocDetectionDataset(dir, { shape })).fingerprint(), hash);
  });

  it('parses the XML it needs: declarations, comments, CDATA, entities, self-closing tags; refuses broken XML', () => {
    const root = parseXml(
      '<?xml version="1.0"?><!-- c --><a x="1"><b>one &amp; two</b><c/><d><![CDATA[<raw>]]></d>\n</a>',
    );
    assert.equal(root.name, 'a');
    assert.deepEqual(
      root.children.map((c) => [c.name, c.text]),
      [
        ['b', 'one & two'],
        ['c', ''],
        ['d', '<raw>'],
      ],
    );
    assert.throws(() => parseXml('<a><b></a>'), /<\/a> at offset 6 closes <b>/);
    assert.throws(() => parseXml('<a>'), /<a> is never closed/);
    assert.throws(() => parseXml('<a></a><b></b>'), /one root element, found 2/);
  });
});

describe('VOC detection sets: bad input is InvalidData naming the file and the object', () => {
  const cases: Array<[string, (set: Record<string, VocImage[]>) => void, RegExp]> = [
    [
      'a box past the image',
      (set) => (set.train[0].objects[0].box = [1, 1, 11, 5]),
      /Annotations\/2008_000001\.xml: object\[0\] \(dog\): bndbox xmin 1 ymin 1 xmax 11 ymax 5 extends past the image \(10x10\)/,
    ],
    [
      'a zero coordinate (VOC is 1-based)',
      (set) => (set.train[0].objects[1].box = [0, 2, 10, 10]),
      /object\[1\] \(cat\): bndbox xmin 0 ymin 2 xmax 10 ymax 10 extends past the image/,
    ],
    [
      'xmax before xmin',
      (set) => (set.train[1].objects[0].box = [15, 1, 12, 10]),
      /2008_000002\.xml: object\[0\] \(dog\): bndbox xmin 15 .* has non-positive size \(w -2, h 10\)/,
    ],
    [
      'an unknown class in the test split',
      (set) => (set.test[0].objects[0].name = 'horse'),
      /2009_000001\.xml: object\[0\] \(horse\): name "horse" is not a class \(classes: cat, dog\)/,
    ],
    [
      'an image listed twice',
      (set) => set.train.push(set.train[0]),
      /ImageSets\/Main\/train\.txt: line 3: duplicate image id 2008_000001 \(also line 1\)/,
    ],
  ];
  for (const [what, edit, message] of cases) {
    it(what, async () => {
      await assert.rejects(openVocDetectionDataset(writeSet(edit), { shape }), isInvalidData(message));
    });
  }

  it('missing files, broken XML, a missing size, an image of another size', async () => {
    const noXml = writeSet();
    rmSync(path.join(noXml, 'Annotations', '2008_000002.xml'));
    await assert.rejects(openVocDetectionDataset(noXml, { shape }), isInvalidData(/2008_000002\.xml: file not found/));
    const noImage = writeSet();
    rmSync(path.join(noImage, 'JPEGImages', '2009_000001.jpg'));
    await assert.rejects(
      openVocDetectionDataset(noImage, { shape }),
      isInvalidData(/2009_000001\.xml: image file .*JPEGImages\/2009_000001\.jpg not found/),
    );
    const broken = writeSet();
    writeFileSync(path.join(broken, 'Annotations', '2008_000001.xml'), '<annotation><size></annotation>');
    await assert.rejects(
      openVocDetectionDataset(broken, { shape }),
      isInvalidData(/2008_000001\.xml: not readable XML \(<\/annotation> at offset \d+ closes <size>\)/),
    );
    const noSize = writeSet();
    writeFileSync(
      path.join(noSize, 'Annotations', '2008_000001.xml'),
      '<annotation><filename>x.jpg</filename></annotation>',
    );
    await assert.rejects(
      openVocDetectionDataset(noSize, { shape }),
      isInvalidData(/2008_000001\.xml: <annotation>\.size: /),
    );
    const badNumber = writeSet();
    writeFileSync(
      path.join(badNumber, 'Annotations', '2008_000001.xml'),
      vocXml('2008_000001.jpg', 10, 10, [{ name: 'dog', box: [1, 1, 4, 5] }]).replace(
        '<xmax>4</xmax>',
        '<xmax>four</xmax>',
      ),
    );
    await assert.rejects(
      openVocDetectionDataset(badNumber, { shape }),
      isInvalidData(/<annotation>\.object\[0\]\.bndbox\.xmax: expected a number/),
    );
    const resized = writeSet();
    writeFileSync(
      path.join(resized, 'Annotations', '2008_000002.xml'),
      vocXml('2008_000002.jpg', 20, 12, [{ name: 'dog', box: [11, 1, 20, 10] }]),
    );
    const ds = await openVocDetectionDataset(resized, { shape });
    await assert.rejects(
      ds.readRange('train', 0, 2),
      isInvalidData(/2008_000002\.xml: image file .* decodes to 20x10, the annotations say 20x12/),
    );
    const noList = writeSet();
    rmSync(path.join(noList, 'ImageSets', 'Main', 'test.txt'));
    await assert.rejects(
      openVocDetectionDataset(noList, { shape }),
      isInvalidData(/ImageSets\/Main\/test\.txt: file not found/),
    );
  });
});
