/**
 * TFRecord shards on gs:// (a real fake-gcs-server): read by ranged requests
 * exactly as from local files, a two-round search over them end to end on the
 * real dev server with the artifacts in the same bucket, and a corrupt object
 * named by its gs:// URI and byte offset.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { SearchConfigInput } from '../../contracts/config';
import { TaskQueue } from '../../contracts/task-queues';
import { openDataset } from '../../domain/data';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { openStore } from '../../domain/storage/open-store';
import { subsetSearch } from '../../workflows';
import { startFakeGcs, type FakeGcs } from '../helpers/fake-gcs';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';
import { writeTfrecordShards, type WrittenShards } from '../helpers/tfrecords';

const BUCKET = 'winnow-data';
const ROOT = `gs://${BUCKET}/root`;
const SHARDS = `${ROOT}/datasets/shapes`;

let gcs: FakeGcs;
let env: TestWorkflowEnvironment;
let local: string;
let written: WrittenShards;
const saved = {
  WINNOW_STORAGE_ROOT: process.env.WINNOW_STORAGE_ROOT,
  STORAGE_EMULATOR_HOST: process.env.STORAGE_EMULATOR_HOST,
  WINNOW_DATA_CACHE: process.env.WINNOW_DATA_CACHE,
};

async function upload(dir: string, prefix: string): Promise<void> {
  for (const name of readdirSync(dir)) {
    await gcs.storage
      .bucket(BUCKET)
      .file(`${prefix}/${name}`)
      .save(readFileSync(path.join(dir, name)), { resumable: false });
  }
}

before(async () => {
  local = mkdtempSync(path.join(os.tmpdir(), 'winnow-tfrecord-gcs-'));
  // 4 classes of 12x12 bars, 1-based labels as in the public ImageNet shards; 3 training shards.
  written = writeTfrecordShards(path.join(local, 'shards'), {
    classes: 4,
    train: [100, 100, 100],
    test: [60, 60],
    side: 12,
    labelBase: 1,
    seed: 5,
  });
  gcs = await startFakeGcs();
  await gcs.createBucket(BUCKET);
  await upload(written.dir, 'root/datasets/shapes');
  process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
  process.env.WINNOW_STORAGE_ROOT = ROOT;
  process.env.WINNOW_DATA_CACHE = path.join(local, 'cache');
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  await gcs?.stop();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(local, { recursive: true, force: true });
});

describe('TFRecord shards on gs://', () => {
  it('reads the same records from gs:// as from the local copy, by ranged requests', async () => {
    const spec = { kind: 'tfrecord', tfrecord: { labelOffset: 1 } } as const;
    const cacheDir = path.join(local, 'direct-cache');
    const remote = await openDataset({ ...spec, uri: SHARDS }, { cacheDir });
    const copy = await openDataset({ ...spec, uri: written.dir }, { cacheDir });
    assert.deepEqual(remote.info.samples, { train: 300, test: 120 });
    assert.equal(remote.info.numClasses, 4);
    assert.deepEqual([...(await remote.readLabels('train'))], written.labels.train);
    const wanted = [299, 0, 150, 101, 7];
    const [a, b] = await Promise.all([remote, copy].map((ds) => ds.readIndicesBytes('train', wanted)));
    assert.deepEqual(a.pixels, b.pixels, 'same pixels from gs:// and from disk');
    assert.deepEqual(
      [...a.labels],
      wanted.map((i) => written.labels.train[i]),
    );
    assert.equal(await remote.fingerprint(), await copy.fingerprint(), 'the fingerprint is the content, not the place');
  });

  it('searches TFRecord shards on gs:// end to end through two rounds', async () => {
    const workflowId = `tfrecord-gcs-${randomUUID()}`;
    const result = await withWorkers(env, ['orchestrator', 'gpu'], () =>
      env.client.workflow.execute(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [
          {
            dataset: { kind: 'tfrecord', uri: SHARDS, tfrecord: { labelOffset: 1 } },
            training: { epochs: 2, batchSize: 32, learningRate: 0.01, minSteps: 30 },
            ensemble: { members: 2, checkpointEpochs: [1, 2] },
            shardSize: 128,
            modelWidth: 0.25,
            initialSize: 30,
            targets: [60, 90],
            acquisition: { function: 'entropy', step: 30 },
            evaluation: { fullBaseline: false },
          } satisfies SearchConfigInput,
        ],
      }),
    );
    assert.equal(result.poolSize, 300, 'the training shards are the pool');
    assert.deepEqual(
      result.evaluations.map((e) => e.size),
      [60, 90],
    );
    for (const row of result.evaluations) {
      assert.ok(row.activeLearning.mean > 0.25, `accuracy ${row.activeLearning.mean} beats chance (4 classes)`);
    }
    const store = openStore(ROOT);
    for (const size of ['60', '90']) {
      const uri = result.subsets[size];
      assert.ok(uri.startsWith(`${ROOT}/`), `subset ${size} stored in the bucket: ${uri}`);
      const manifest = parseSubsetManifest((await store.get(uri)).toString('utf8'), uri);
      assert.equal(manifest.indices.length, Number(size));
      assert.ok(manifest.indices.every((i) => i >= 0 && i < 300));
    }
  });

  it('a corrupt object is named by its gs:// URI and byte offset', async () => {
    const bytes = readFileSync(written.files.train[1]);
    const second = bytes.readUInt32LE(0) + 16;
    bytes[second + 40] ^= 0x10;
    await gcs.storage
      .bucket(BUCKET)
      .file('root/datasets/broken/train-00000-of-00001')
      .save(bytes, { resumable: false });
    await assert.rejects(
      openDataset({ kind: 'tfrecord', uri: `${ROOT}/datasets/broken` }, { cacheDir: path.join(local, 'broken-cache') }),
      (err: Error & { failureType?: string }) =>
        err.failureType === 'InvalidData' &&
        err.message.includes(`${ROOT}/datasets/broken/train-00000-of-00001: record 1 at byte offset ${second}`) &&
        /data CRC mismatch/.test(err.message),
    );
  });
});
