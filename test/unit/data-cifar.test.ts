import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openCifarDataset, type CifarOptions } from '../../domain/data/cifar';
import { isInvalidData, pixelOf, tempDir } from './data-helpers';

const PLANE = 1024;

/** CIFAR records for samples [first, first+count): label bytes, then R, G, B planes. */
function cifarRecords(first: number, count: number, labelsOf: (i: number) => number[]): Buffer {
  const parts: Buffer[] = [];
  for (let i = first; i < first + count; i++) {
    const planes = Buffer.alloc(3 * PLANE);
    for (let q = 0; q < 3 * PLANE; q++) planes[q] = pixelOf(i, q);
    parts.push(Buffer.from(labelsOf(i)), planes);
  }
  return Buffer.concat(parts);
}

const label10 = (i: number) => [i % 10];
const label100 = (i: number) => [i % 20, (i * 3) % 100];

describe('CIFAR datasets', () => {
  const tmp = tempDir('cifar');
  const cacheDir = path.join(tmp.dir, 'cache');
  let counter = 0;
  after(() => tmp.remove());

  /** CIFAR-10 in the tarball's subfolder: batches of 4, 3 and 5 records, test of 6. */
  const writeCifar10 = () => {
    const dir = path.join(tmp.dir, `c10-${counter++}`);
    const folder = path.join(dir, 'cifar-10-batches-bin');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'data_batch_1.bin'), cifarRecords(0, 4, label10));
    writeFileSync(path.join(folder, 'data_batch_2.bin'), cifarRecords(4, 3, label10));
    writeFileSync(path.join(folder, 'data_batch_10.bin'), cifarRecords(7, 5, label10));
    writeFileSync(path.join(folder, 'test_batch.bin'), cifarRecords(100, 6, label10));
    return { dir, folder };
  };
  const c10 = (): CifarOptions => ({ variant: 'cifar10', cacheDir, hint: 'fix the test data' });

  /** The HWC bytes the reader should return for sample i. */
  const expectedHwc = (i: number) => {
    const out = new Uint8Array(3 * PLANE);
    for (let p = 0; p < PLANE; p++) for (let c = 0; c < 3; c++) out[3 * p + c] = pixelOf(i, c * PLANE + p);
    return out;
  };

  it('reads CIFAR-10 batches as one split, planes turned into HWC, across batch boundaries', async () => {
    const { dir } = writeCifar10();
    const ds = await openCifarDataset(dir, c10());
    assert.deepEqual(ds.info.samples, { train: 12, test: 6 });
    assert.deepEqual(ds.info.shape, [32, 32, 3]);
    assert.equal(ds.info.numClasses, 10);
    assert.equal(ds.info.classNames?.[0], 'airplane');
    // Range 2..9 spans data_batch_1, _2 and _10 (numeric order, not text order).
    const batch = await ds.readRangeBytes('train', 2, 8);
    for (let k = 0; k < 8; k++) {
      assert.deepEqual(
        batch.pixels.subarray(k * 3 * PLANE, (k + 1) * 3 * PLANE),
        expectedHwc(2 + k),
        `sample ${2 + k}`,
      );
      assert.equal(batch.labels[k], (2 + k) % 10);
    }
    const picked = await ds.readIndices('test', [5, 0, 5]);
    assert.deepEqual(Array.from(picked.labels), [5, 0, 5]);
    assert.ok(
      Math.abs(picked.images[1] - pixelOf(105, PLANE) / 255) < 1e-7,
      'green of the first pixel of test sample 5',
    );
    assert.deepEqual(
      Array.from(await ds.readLabels('train')),
      Array.from({ length: 12 }, (_, i) => i % 10),
    );
  });

  it('reads CIFAR-100 with fine labels by default, coarse on request', async () => {
    const dir = path.join(tmp.dir, `c100-${counter++}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'train.bin'), cifarRecords(0, 7, label100));
    writeFileSync(path.join(dir, 'test.bin'), cifarRecords(50, 2, label100));
    writeFileSync(
      path.join(dir, 'coarse_label_names.txt'),
      Array.from({ length: 20 }, (_, i) => `group${i}`).join('\n') + '\n',
    );
    const fine = await openCifarDataset(dir, { variant: 'cifar100', cacheDir, hint: 'x' });
    assert.equal(fine.info.numClasses, 100);
    assert.equal(fine.info.classNames, undefined);
    const batch = await fine.readRangeBytes('train', 3, 4);
    assert.deepEqual(Array.from(batch.labels), [9, 12, 15, 18]);
    assert.deepEqual(batch.pixels.subarray(0, 3 * PLANE), expectedHwc(3));
    const coarse = await openCifarDataset(dir, { variant: 'cifar100', labels: 'coarse', cacheDir, hint: 'x' });
    assert.equal(coarse.info.numClasses, 20);
    assert.equal(coarse.info.classNames?.[19], 'group19');
    assert.deepEqual(Array.from((await coarse.readRangeBytes('test', 0, 2)).labels), [10, 11]);
    assert.notEqual(await fine.fingerprint(), await coarse.fingerprint());
  });

  it('fingerprint is stable and changes with one byte', async () => {
    const { dir, folder } = writeCifar10();
    const first = await (await openCifarDataset(dir, c10())).fingerprint();
    assert.equal(await (await openCifarDataset(dir, c10())).fingerprint(), first);
    const file = path.join(folder, 'data_batch_2.bin');
    const bytes = readFileSync(file);
    bytes[500] ^= 0x80;
    writeFileSync(file, bytes);
    assert.notEqual(await (await openCifarDataset(dir, c10())).fingerprint(), first);
  });

  describe('corrupt files', () => {
    it('size not a multiple of the record names the truncated record', async () => {
      const { dir, folder } = writeCifar10();
      writeFileSync(path.join(folder, 'data_batch_2.bin'), cifarRecords(4, 3, label10).subarray(0, 2 * 3073 + 100));
      await assert.rejects(
        openCifarDataset(dir, c10()),
        isInvalidData(
          /data_batch_2\.bin: 6246 bytes is not a whole number of 3073-byte cifar10 records/,
          /2 whole records, then 100 bytes of a truncated record at byte offset 6146/,
        ),
      );
    });

    it('empty file', async () => {
      const { dir, folder } = writeCifar10();
      writeFileSync(path.join(folder, 'test_batch.bin'), Buffer.alloc(0));
      await assert.rejects(openCifarDataset(dir, c10()), isInvalidData(/test_batch\.bin: 0 bytes .*the file is empty/));
    });

    it('out-of-range label names file, byte offset and record, on read and on readLabels', async () => {
      const { dir, folder } = writeCifar10();
      const bad = cifarRecords(4, 3, label10);
      bad[2 * 3073] = 12; // record 2 of data_batch_2 = training sample 6
      writeFileSync(path.join(folder, 'data_batch_2.bin'), bad);
      const ds = await openCifarDataset(dir, c10());
      const message = isInvalidData(/data_batch_2\.bin: label 12 at byte offset 6146 \(record 2\) is out of range 0-9/);
      await assert.rejects(ds.readIndices('train', [0, 6]), message);
      await assert.rejects(ds.readLabels('train'), message);
      assert.equal((await ds.readRange('train', 0, 6)).count, 6, 'records before the bad one stay readable');
    });

    it('missing files', async () => {
      const { dir, folder } = writeCifar10();
      rmSync(path.join(folder, 'test_batch.bin'));
      await assert.rejects(
        openCifarDataset(dir, c10()),
        isInvalidData(/test_batch\.bin: file not found; fix the test data/),
      );
      const empty = path.join(tmp.dir, `empty-${counter++}`);
      mkdirSync(empty);
      await assert.rejects(openCifarDataset(empty, c10()), isInvalidData(/no data_batch_N\.bin/));
      await assert.rejects(
        openCifarDataset(empty, { variant: 'cifar100', cacheDir, hint: 'x' }),
        isInvalidData(/train\.bin: file not found/),
      );
    });
  });
});
