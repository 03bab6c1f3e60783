import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { encode as encodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { decodeImage, fitImage } from '../../domain/data/image-decode';
import { openImageManifestDataset, parseManifestText } from '../../domain/data/image-manifest';
import { isInvalidData, tempDir } from './data-helpers';

type Rgba = [number, number, number, number];

function pngBytes(width: number, height: number, colour: (x: number, y: number) => Rgba, grey = false): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) png.data.set(colour(x, y), (y * width + x) * 4);
  }
  return PNG.sync.write(png, grey ? { colorType: 0 } : {});
}

function jpegBytes(width: number, height: number, colour: Rgba): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let p = 0; p < width * height; p++) data.set(colour, p * 4);
  return encodeJpeg({ width, height, data }, 100).data;
}

function fit(bytes: Buffer, h: number, w: number, c: 1 | 3): number[] {
  const out = new Uint8Array(h * w * c);
  fitImage(decodeImage(bytes), h, w, c, out);
  return Array.from(out);
}

describe('image decoding and fitting', () => {
  it('a solid PNG stays that colour at any size', () => {
    assert.deepEqual(
      fit(
        pngBytes(5, 7, () => [10, 200, 30, 255]),
        4,
        4,
        3,
      ),
      Array(16).fill([10, 200, 30]).flat(),
    );
  });

  it('an image of the target size keeps its exact pixels (RGB) and gives their luma (grey), at an offset', () => {
    const colour = (x: number, y: number): Rgba => [x * 40 + y, 255 - x * 30, (x * y * 17) % 256, 255];
    const bytes = pngBytes(3, 2, colour);
    const expected = [0, 1].flatMap((y) => [0, 1, 2].flatMap((x) => colour(x, y).slice(0, 3)));
    assert.deepEqual(fit(bytes, 2, 3, 3), expected);
    const out = new Uint8Array(2 + 6);
    fitImage(decodeImage(bytes), 2, 3, 1, out, 2);
    const luma = [0, 1].flatMap((y) =>
      [0, 1, 2].map((x) => {
        const [r, g, b] = colour(x, y);
        return Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      }),
    );
    assert.deepEqual(Array.from(out), [0, 0, ...luma]);
  });

  it('scales to cover, then crops the centre', () => {
    // 4 wide x 2 high, columns: red, red, blue, blue -> 2x2 keeps columns 1 and 2.
    const bytes = pngBytes(4, 2, (x) => (x < 2 ? [255, 0, 0, 255] : [0, 0, 255, 255]));
    assert.deepEqual(fit(bytes, 2, 2, 3), [255, 0, 0, 0, 0, 255, 255, 0, 0, 0, 0, 255]);
  });

  it('upscales bilinearly (pixel centres aligned, edges clamped)', () => {
    const values = [0, 100, 200, 255];
    const bytes = pngBytes(2, 2, (x, y) => {
      const v = values[y * 2 + x];
      return [v, v, v, 255];
    });
    const out = fit(bytes, 4, 4, 1);
    // Row 0 samples source row 0 (v clamped); columns at u = 0, 0.25, 0.75, 1.
    assert.deepEqual(out.slice(0, 4), [0, 25, 75, 100]);
    // Row 1 samples v = 0.25: 0.75 * row 0 + 0.25 * row 1, e.g. 0.75 * 75 + 0.25 * 241.25 = 116.6.
    assert.deepEqual(out.slice(4, 8), [50, 72, 117, 139]);
  });

  it('turns grey into RGB and colour into luma', () => {
    assert.deepEqual(
      fit(
        pngBytes(3, 3, () => [90, 90, 90, 255], true),
        2,
        2,
        3,
      ),
      Array(12).fill(90),
    );
    assert.deepEqual(
      fit(
        pngBytes(2, 2, () => [255, 0, 0, 255]),
        1,
        1,
        1,
      ),
      [76],
    );
  });

  it('decodes JPEG (lossy: within a few levels)', () => {
    const out = fit(jpegBytes(16, 16, [200, 40, 120, 255]), 8, 8, 3);
    out.forEach((v, i) => assert.ok(Math.abs(v - [200, 40, 120][i % 3]) <= 4, `byte ${i}: ${v}`));
  });

  it('refuses bytes that are neither PNG nor JPEG', () => {
    assert.throws(() => decodeImage(Buffer.from('hello, not an image')), /neither PNG nor JPEG/);
  });
});

describe('image-manifest datasets', () => {
  const tmp = tempDir('manifest');
  let counter = 0;
  after(() => tmp.remove());

  /** A folder with 4 training images (PNG and JPEG, different sizes) and 2 test images. */
  const writeSet = (extra: { datasetJson?: unknown } = {}) => {
    const dir = path.join(tmp.dir, `set-${counter++}`);
    mkdirSync(path.join(dir, 'img'), { recursive: true });
    const colours: Rgba[] = [
      [255, 0, 0, 255],
      [0, 255, 0, 255],
      [0, 0, 255, 255],
      [255, 255, 255, 255],
    ];
    colours.forEach((c, i) =>
      writeFileSync(
        path.join(dir, 'img', `${i}.png`),
        pngBytes(6 + i, 5, () => c),
      ),
    );
    writeFileSync(path.join(dir, 'img', 'j.jpg'), jpegBytes(8, 8, [128, 128, 128, 255]));
    const absolute = path.join(dir, 'img', '3.png');
    writeFileSync(
      path.join(dir, 'train.jsonl'),
      [
        { uri: 'img/0.png', label: 0 },
        { uri: pathToFileURL(path.join(dir, 'img', '1.png')).href, label: 1 },
        { uri: './img/2.png', label: 2, note: 'extra fields are ignored' },
        { uri: absolute, label: 1 },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n\n',
    );
    writeFileSync(path.join(dir, 'test.jsonl'), `{"uri":"img/j.jpg","label":2}\n{"uri":"img/0.png","label":0}\n`);
    if (extra.datasetJson !== undefined)
      writeFileSync(path.join(dir, 'dataset.json'), JSON.stringify(extra.datasetJson));
    return dir;
  };

  it('reads samples fitted to the configured shape, with labels', async () => {
    const dir = writeSet();
    const ds = await openImageManifestDataset(dir, { height: 3, width: 3, channels: 3 });
    assert.deepEqual(ds.info.samples, { train: 4, test: 2 });
    assert.deepEqual(ds.info.shape, [3, 3, 3]);
    assert.equal(ds.info.numClasses, 3, 'max label + 1 without dataset.json');
    const batch = await ds.readRangeBytes('train', 0, 4);
    assert.deepEqual(Array.from(batch.labels), [0, 1, 2, 1]);
    assert.deepEqual(Array.from(batch.pixels.subarray(0, 3)), [255, 0, 0]);
    assert.deepEqual(Array.from(batch.pixels.subarray(27, 30)), [0, 255, 0]);
    assert.deepEqual(Array.from(batch.pixels.subarray(54, 57)), [0, 0, 255]);
    assert.deepEqual(Array.from(batch.pixels.subarray(81, 84)), [255, 255, 255]);
    const picked = await ds.readIndices('test', [1, 0]);
    assert.deepEqual(Array.from(picked.labels), [0, 2]);
    assert.equal(picked.images[0], 1);
    assert.ok(Math.abs(picked.images[27] - 128 / 255) < 4 / 255);
  });

  it('takes shape and class names from dataset.json; options override it', async () => {
    const dir = writeSet({ datasetJson: { height: 2, width: 5, channels: 1, classNames: ['r', 'g', 'b', 'w'] } });
    const ds = await openImageManifestDataset(dir);
    assert.deepEqual(ds.info.shape, [2, 5, 1]);
    assert.equal(ds.info.numClasses, 4);
    assert.deepEqual(ds.info.classNames, ['r', 'g', 'b', 'w']);
    assert.equal((await ds.readRangeBytes('train', 1, 1)).pixels[0], 150, 'luma of pure green');
    assert.deepEqual((await openImageManifestDataset(dir, { height: 4 })).info.shape, [4, 5, 1]);
    assert.deepEqual((await openImageManifestDataset(writeSet())).info.shape, [224, 224, 3], 'default shape');
  });

  it('fingerprint: stable, follows the manifest; image bytes only when asked', async () => {
    const dir = writeSet();
    const fp = async (hashImages = false) =>
      (await openImageManifestDataset(dir, { height: 3, width: 3, hashImages })).fingerprint();
    const plain = await fp();
    const deep = await fp(true);
    assert.equal(await fp(), plain);
    assert.notEqual(deep, plain);
    const image = path.join(dir, 'img', 'j.jpg');
    const bytes = readFileSync(image);
    bytes[bytes.length - 3] ^= 1;
    writeFileSync(image, bytes);
    assert.equal(await fp(), plain);
    assert.notEqual(await fp(true), deep);
    writeFileSync(path.join(dir, 'test.jsonl'), `{"uri":"img/j.jpg","label":1}\n{"uri":"img/0.png","label":0}\n`);
    assert.notEqual(await fp(), plain);
    assert.notEqual(
      await (await openImageManifestDataset(dir, { height: 4, width: 3 })).fingerprint(),
      await (await openImageManifestDataset(dir, { height: 3, width: 3 })).fingerprint(),
      'the sample shape is part of the content',
    );
  });

  describe('bad manifests and images', () => {
    it('names every bad line by number', () => {
      const text = [
        '{"uri":"a.png","label":0}',
        '{"uri":"b.png","label":1',
        '',
        '{"uri":"c.png","label":-1}',
        '{"label":2}',
        '{"uri":"https://example.org/x.png","label":0}',
        '{"uri":"d.png","label":1.5}',
      ].join('\n');
      assert.throws(
        () => parseManifestText(text, '/data/train.jsonl'),
        isInvalidData(
          /\/data\/train\.jsonl: 5 bad lines/,
          /line 2: not valid JSON/,
          /line 4: label: /,
          /line 5: uri: /,
          /line 6: uri https:\/\/example\.org\/x\.png: only local paths/,
          /line 7: label: /,
          /\{"uri": "<image path>", "label": <integer >= 0>\}/,
        ),
      );
      const many = Array.from({ length: 9 }, () => 'nope').join('\n');
      assert.throws(
        () => parseManifestText(many, 'm.jsonl'),
        isInvalidData(/9 bad lines: line 1: .*line 5: .*; and 4 more bad lines/),
      );
    });

    it('resolves relative uris against the manifest folder', () => {
      const entries = parseManifestText(
        '{"uri":"x/a.png","label":3}\n{"uri":"file:///abs/b.png","label":0}',
        '/data/set/train.jsonl',
      );
      assert.deepEqual(entries, [
        { file: '/data/set/x/a.png', label: 3, line: 1 },
        { file: '/abs/b.png', label: 0, line: 2 },
      ]);
    });

    it('an undecodable or truncated image fails the read naming manifest line and image', async () => {
      const dir = writeSet();
      writeFileSync(path.join(dir, 'img', '2.png'), 'this is text, not a PNG');
      const png = readFileSync(path.join(dir, 'img', '0.png'));
      writeFileSync(path.join(dir, 'img', '1.png'), png.subarray(0, png.length - 30));
      const ds = await openImageManifestDataset(dir, { height: 3, width: 3 });
      await assert.rejects(
        ds.readIndices('train', [2]),
        isInvalidData(/train\.jsonl: line 3: image .*img\/2\.png \(23 bytes\) cannot be decoded: neither PNG nor JPEG/),
      );
      await assert.rejects(
        ds.readRange('train', 1, 1),
        isInvalidData(/train\.jsonl: line 2: image .*img\/1\.png .*cannot be decoded/),
      );
      assert.equal((await ds.readRange('train', 3, 1)).count, 1);
    });

    it('a missing image fails the read naming the line', async () => {
      const dir = writeSet();
      writeFileSync(path.join(dir, 'test.jsonl'), '{"uri":"img/0.png","label":0}\n{"uri":"img/gone.png","label":0}\n');
      const ds = await openImageManifestDataset(dir, { height: 3, width: 3 });
      await assert.rejects(
        ds.readRange('test', 0, 2),
        isInvalidData(/test\.jsonl: line 2: image .*gone\.png: file not found/),
      );
    });

    it('a label beyond the declared classes names the line', async () => {
      const dir = writeSet({ datasetJson: { numClasses: 2 } });
      await assert.rejects(
        openImageManifestDataset(dir),
        isInvalidData(/train\.jsonl: line 3: label 2 is out of range 0-1 \(dataset\.json declares 2 classes\)/),
      );
    });

    it('missing train manifest, invalid dataset.json', async () => {
      const empty = path.join(tmp.dir, `empty-${counter++}`);
      mkdirSync(empty);
      await assert.rejects(openImageManifestDataset(empty), isInvalidData(/train\.jsonl: file not found/));
      const dir = writeSet({ datasetJson: { height: 0, colour: true } });
      await assert.rejects(openImageManifestDataset(dir), isInvalidData(/dataset\.json: /, /height/));
    });
  });
});
