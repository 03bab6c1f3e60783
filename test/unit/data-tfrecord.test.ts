/**
 * TFRecord shards of tf.train.Example: CRC-32C, the Example codec, per-shard
 * record indices (built once, cached, rebuilt when a shard changes), reads by
 * index across shards, fingerprints, a fixture written by TensorFlow itself,
 * and errors that name the shard, the record and its byte offset.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { openDataset } from '../../domain/data';
import { crc32c, maskedCrc32c } from '../../domain/data/crc32c';
import { encodeExample, parseExample } from '../../domain/data/tf-example';
import { openTfrecordDataset, openTfrecordShards } from '../../domain/data/tfrecord';
import { tfrecordFile, tfrecordFrame, writeTfrecordShards } from '../helpers/tfrecords';
import { classImage } from '../helpers/image-folders';
import { mulberry32 } from '../../contracts/seeded-hash';
import { isInvalidData, tempDir } from './data-helpers';

const temp = tempDir('tfrecord');
after(() => temp.remove());
let n = 0;
const fresh = () => path.join(temp.dir, `set-${n++}`);
const cacheDir = () => path.join(temp.dir, `cache-${n++}`);
const pngOf = (bytes: Buffer) => PNG.sync.read(bytes);

describe('CRC-32C and tf.train.Example', () => {
  it('CRC-32C matches the published check values; the mask is TensorFlow’s', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    const bytes = Buffer.from('123456789');
    const crc = 0xe3069283;
    assert.equal(maskedCrc32c(bytes), (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0);
    assert.equal(crc32c(Buffer.from('xx123456789yy'), 2, 11), 0xe3069283, 'a sub-range');
  });

  it('an Example round-trips bytes, int64 (large and negative) and float features', () => {
    const image = Uint8Array.from([1, 2, 3, 250]);
    const features = parseExample(
      encodeExample({
        'image/encoded': { bytes: [image] },
        'image/class/label': { int64: [7, 2 ** 40, -3] },
        score: { float: [0.5, -2.25] },
      }),
    );
    assert.deepEqual([...features.keys()].sort(), ['image/class/label', 'image/encoded', 'score']);
    const bytes = features.get('image/encoded');
    assert.equal(bytes?.kind, 'bytes');
    assert.deepEqual([...(bytes!.values[0] as Uint8Array)], [...image]);
    assert.deepEqual(features.get('image/class/label'), { kind: 'int64', values: [7, 2 ** 40, -3] });
    assert.deepEqual(features.get('score'), { kind: 'float', values: [0.5, -2.25] });
  });

  it('a malformed Example is refused, not misread', () => {
    const good = encodeExample({ a: { int64: [1] } });
    assert.throws(() => parseExample(good.subarray(0, good.length - 1)), /past the end/);
  });
});

describe('TFRecord datasets', () => {
  it('train-* and validation-* shards: counts, labels, images by index across shards', async () => {
    const written = writeTfrecordShards(fresh(), { classes: 3, train: [4, 3, 5], test: [2, 3], side: 8 });
    const ds = await openTfrecordDataset(written.dir, { cacheDir: cacheDir() });
    assert.equal(ds.info.kind, 'tfrecord');
    assert.deepEqual(ds.info.samples, { train: 12, test: 5 });
    assert.deepEqual(ds.info.shape, [8, 8, 1]);
    assert.equal(ds.info.numClasses, 3);
    assert.deepEqual([...(await ds.readLabels('train'))], written.labels.train);
    assert.deepEqual([...(await ds.readLabels('test'))], written.labels.test);
    // Records from the first, third and second shard, out of order and repeated.
    const wanted = [11, 0, 5, 3, 4, 11];
    const batch = await ds.readIndicesBytes('train', wanted);
    assert.deepEqual(
      [...batch.labels],
      wanted.map((i) => written.labels.train[i]),
    );
    wanted.forEach((i, at) => {
      const png = pngOf(written.images.train[i]);
      for (let p = 0; p < 64; p++) {
        assert.equal(batch.pixels[at * 64 + p], png.data[p * 4], `record ${i}, pixel ${p}`);
      }
    });
    const floats = await ds.readRange('test', 1, 3);
    assert.equal(floats.count, 3);
    assert.ok(Math.abs(floats.images[0] - pngOf(written.images.test[1]).data[0] / 255) < 1e-6);
  });

  it('labels with an offset, a class count, and a configured shape', async () => {
    const written = writeTfrecordShards(fresh(), {
      classes: 4,
      train: [6],
      test: [2],
      side: 6,
      grey: false,
      labelBase: 1,
    });
    const ds = await openDataset(
      {
        kind: 'tfrecord',
        uri: written.dir,
        image: { height: 4, width: 4, channels: 3 },
        tfrecord: { labelOffset: 1, classes: 10 },
      },
      { cacheDir: cacheDir() },
    );
    assert.equal(ds.info.numClasses, 10);
    assert.deepEqual(ds.info.shape, [4, 4, 3]);
    assert.deepEqual([...(await ds.readLabels('train'))], written.labels.train);
    const batch = await ds.readIndicesBytes('train', [2]);
    assert.equal(batch.pixels.length, 48);
  });

  it('the index is cached, reused, and rebuilt when a shard changes; the fingerprint follows the content', async () => {
    const written = writeTfrecordShards(fresh(), { classes: 2, train: [3], test: [1], side: 4 });
    const cache = cacheDir();
    const first = await openTfrecordDataset(written.dir, { cacheDir: cache });
    const print = await first.fingerprint();
    const indices = readdirSync(path.join(cache, 'tfrecord-index'));
    assert.equal(indices.length, 2, 'one index per shard');
    // A cached index is what the next open reads: spoil one label in it and the open shows it.
    const idxFile = path.join(cache, 'tfrecord-index', indices[0]);
    const before = readFileSync(idxFile);
    const again = await openTfrecordDataset(written.dir, { cacheDir: cache });
    assert.equal(await again.fingerprint(), print, 'same shards, same fingerprint');
    assert.deepEqual(readFileSync(idxFile), before, 'the cached index is not rewritten');
    // A changed shard (a record appended) gets a new index and a new fingerprint.
    const extra = encodeExample({
      'image/encoded': { bytes: [classImage(1, 2, 4, true, mulberry32(9))] },
      'image/class/label': { int64: [1] },
    });
    appendFileSync(written.files.train[0], tfrecordFrame(extra));
    const changed = await openTfrecordDataset(written.dir, { cacheDir: cache });
    assert.equal(changed.info.samples.train, 4);
    assert.notEqual(await changed.fingerprint(), print);
    assert.deepEqual([...(await changed.readIndicesBytes('train', [3])).labels], [1]);
  });

  it('reads a fixture written by TensorFlow’s TFRecordWriter (1-based labels, extra features)', async () => {
    const dir = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'tfrecord');
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as {
      records: Array<{ shard: string; record: number; offset: number; label: number }>;
    };
    const ds = await openTfrecordDataset(dir, { cacheDir: cacheDir(), labelOffset: 1 });
    const train = expected.records.filter((r) => r.shard.startsWith('train'));
    const test = expected.records.filter((r) => r.shard.startsWith('validation'));
    assert.deepEqual(ds.info.samples, { train: train.length, test: test.length });
    assert.deepEqual(ds.info.shape, [6, 5, 1]);
    assert.deepEqual(
      [...(await ds.readLabels('train'))],
      train.map((r) => r.label - 1),
    );
    assert.deepEqual(
      [...(await ds.readLabels('test'))],
      test.map((r) => r.label - 1),
    );
    // The index finds every record where TensorFlow's framing put it.
    const shards = await openTfrecordShards(dir, { cacheDir: cacheDir(), labelOffset: 1 });
    const indexed = [...shards.splits.train.shards, ...shards.splits.test.shards].flatMap((shard) =>
      [...shard.index.offsets].map((offset, record) => ({ shard: shard.file.name, record, offset })),
    );
    assert.deepEqual(
      indexed,
      expected.records.map(({ shard, record, offset }) => ({ shard, record, offset })),
    );
    // The writer's pixels: record i (counted over all shards) has (i*37 + y*11 + x*5) % 256 at row y, column x.
    const all = await ds.readRangeBytes('train', 0, train.length);
    const tests = await ds.readRangeBytes('test', 0, test.length);
    const pixels = [all.pixels, tests.pixels];
    for (let i = 0; i < expected.records.length; i++) {
      const [source, at] = i < train.length ? [pixels[0], i] : [pixels[1], i - train.length];
      for (let y = 0; y < 6; y++) {
        for (let x = 0; x < 5; x++) {
          assert.equal(source[at * 30 + y * 5 + x], (i * 37 + y * 11 + x * 5) % 256, `record ${i} (${y}, ${x})`);
        }
      }
    }
  });
});

describe('TFRecord errors name the shard, the record and its offset', () => {
  /** One training shard of three records, the third spoiled by `spoil`; returns the folder and that record's offset. */
  function spoiledShard(spoil: (bytes: Buffer, third: number) => Buffer): { dir: string; third: number } {
    const written = writeTfrecordShards(fresh(), { classes: 2, train: [3], test: [], side: 4 });
    const bytes = readFileSync(written.files.train[0]);
    const first = bytes.readUInt32LE(0) + 16;
    const third = first + bytes.readUInt32LE(first) + 16;
    writeFileSync(written.files.train[0], spoil(bytes, third));
    return { dir: written.dir, third };
  }
  const open = (dir: string) => openTfrecordDataset(dir, { cacheDir: cacheDir() });

  it('a flipped data byte fails the data CRC', async () => {
    const { dir, third } = spoiledShard((bytes, at) => {
      bytes[at + 20] ^= 0x40;
      return bytes;
    });
    await assert.rejects(
      open(dir),
      isInvalidData(/train-00000-of-00001/, new RegExp(`record 2 at byte offset ${third}`), /data CRC mismatch/),
    );
  });

  it('a spoiled length fails the length CRC', async () => {
    const { dir, third } = spoiledShard((bytes, at) => {
      bytes[at] ^= 0x01;
      return bytes;
    });
    await assert.rejects(
      open(dir),
      isInvalidData(new RegExp(`record 2 at byte offset ${third}`), /length CRC mismatch/),
    );
  });

  it('a truncated shard says so', async () => {
    const { dir, third } = spoiledShard((bytes, at) => bytes.subarray(0, at + 30));
    await assert.rejects(open(dir), isInvalidData(new RegExp(`record 2 at byte offset ${third}`), /truncated/));
    const { dir: short } = spoiledShard((bytes, at) => bytes.subarray(0, at + 5));
    await assert.rejects(open(short), isInvalidData(/ends inside a record header/));
  });

  it('a GZIP-compressed shard is named as such', async () => {
    const { dir } = spoiledShard((bytes) => gzipSync(bytes));
    await assert.rejects(open(dir), isInvalidData(/record 0 at byte offset 0/, /GZIP-compressed/, /uncompressed/));
  });

  it('a missing or mistyped feature lists the features present', async () => {
    const dir = fresh();
    writeTfrecordShards(dir, { classes: 2, train: [1], test: [], side: 4 });
    writeFileSync(
      path.join(dir, 'train-00001-of-00002'),
      tfrecordFile([{ 'image/png': { bytes: [Buffer.from([1])] }, 'image/class/label': { int64: [0] } }]),
    );
    await assert.rejects(
      open(dir),
      isInvalidData(
        /train-00001-of-00002: record 0 at byte offset 0/,
        /"image\/encoded"/,
        /image\/png/,
        /imageFeature/,
      ),
    );
    const typed = fresh();
    writeTfrecordShards(typed, { classes: 2, train: [1], test: [], side: 4 });
    writeFileSync(
      path.join(typed, 'train-00001-of-00002'),
      tfrecordFile([{ 'image/encoded': { bytes: [Buffer.from([1])] }, 'image/class/label': { float: [1] } }]),
    );
    await assert.rejects(
      open(typed),
      isInvalidData(/"image\/class\/label" must hold one int64 label, found a float list/),
    );
  });

  it('a label outside the classes and an undecodable image name the record', async () => {
    const written = writeTfrecordShards(fresh(), { classes: 3, train: [4], test: [], side: 4 });
    await assert.rejects(
      openTfrecordDataset(written.dir, { cacheDir: cacheDir(), classes: 2 }),
      isInvalidData(/record 2 at byte offset \d+: label 2 is outside 0\.\.1/, /dataset\.tfrecord\.classes/),
    );
    const bad = fresh();
    writeTfrecordShards(bad, { classes: 2, train: [2], test: [], side: 4 });
    writeFileSync(
      path.join(bad, 'train-00001-of-00002'),
      tfrecordFile([
        { 'image/encoded': { bytes: [Buffer.from('not an image')] }, 'image/class/label': { int64: [1] } },
      ]),
    );
    const ds = await openTfrecordDataset(bad, { cacheDir: cacheDir() });
    await assert.rejects(
      ds.readIndicesBytes('train', [2]),
      isInvalidData(/train-00001-of-00002: record 0 at byte offset 0: the image \(12 bytes\) cannot be decoded/),
    );
  });

  it('a folder without train-* shards, and config fields for other kinds, are refused', async () => {
    const dir = fresh();
    writeTfrecordShards(dir, { classes: 2, train: [], test: [1], side: 4 });
    await assert.rejects(open(dir), isInvalidData(/no training shards/, /validation-00000-of-00001/));
    await assert.rejects(openDataset({ kind: 'mnist', uri: dir, tfrecord: { labelOffset: 1 } }), (err: Error) =>
      /dataset\.tfrecord is only for kind "tfrecord"/.test(err.message),
    );
    await assert.rejects(
      openDataset(
        { kind: 'tfrecord', uri: 'gs://elsewhere/shards' },
        { env: { WINNOW_STORAGE_ROOT: 'gs://bucket/root' } },
      ),
      (err: Error & { failureType?: string }) =>
        err.failureType === 'ForbiddenPath' && /storage root/.test(err.message),
    );
  });
});
